"""Golden maps of a small project in all 13 languages (``tests/data/codemap/polyglot``).

``CodeMap(root).render(focus, tokens=N)`` must equal the checked-in ``*.map`` file
byte for byte. When the map changes on purpose (a query, the ranking's weights, the
renderer), regenerate the goldens and read the diff before committing it::

    MNEMO_REGEN_GOLDEN=1 .venv/bin/pytest tests/agent/codemap/test_render_golden.py

Checked by eye when written: definitions keep their full signatures (decorators and
attributes, parameters, return types) and their nesting (class → methods, namespace →
class → methods); files without a grammar (``tool.lua``, ``README.md``) are listed by
name. The signature table below pins the same facts per language without depending
on the ranking, so a ranking change alone never hides a lost signature.
"""

from __future__ import annotations

import os

import pytest

from mnemocode.agent.codemap import CodeMap
from mnemocode.agent.codemap.types import Focus
from mnemocode.llm.tokens import count_tokens, encoding_name
from tests.agent.codemap.repo import DATA, copy_fixture

REGEN = os.environ.get("MNEMO_REGEN_GOLDEN") == "1"

# name of the golden file → (focus, token budget)
GOLDENS: dict[str, tuple[Focus, int]] = {
    # everything fits: every definition of every file, best file first
    "polyglot.map": (Focus(), 4_096),
    # a small budget focused on the ledger: the best definitions only
    "polyglot-ledger-300.map": (
        Focus(files={"svc/ledger.rs": 1.0}, identifiers={"Balance": 1.0}),
        300,
    ),
}

# (path, name, parents, signature): one or more definitions of each language
SIGNATURES = [
    ("app/models.py", "Item", (), "@dataclass(frozen=True)\nclass Item:"),
    ("app/models.py", "count", ("Inventory",), "@property\ndef count(self) -> int:"),
    (
        "app/models.py",
        "parse_line",
        ("Inventory",),
        '@staticmethod\ndef parse_line(\n    line: str,\n    sep: str = ",",\n) -> Item:',
    ),
    ("app/models.py", "load_inventory", (), "def load_inventory(path: str) -> Inventory:"),
    ("web/cart.js", "addLine", ("Cart",), "addLine(sku, quantity = 1)"),
    ("web/cart.js", "cartTotal", (), "export function cartTotal(cart, prices)"),
    ("web/api.ts", "lookup", ("PriceList",), "lookup(sku: string): number"),
    (
        "web/api.ts",
        "refresh",
        ("PriceService",),
        "async refresh(channel: Channel, force?: boolean): Promise<void>",
    ),
    (
        "web/Badge.tsx",
        "Badge",
        (),
        "export function Badge({ sku, service }: BadgeProps): JSX.Element",
    ),
    ("svc/store.go", "Put", (), "func (s *Store) Put(name string, count int) error"),
    # a body the grammar does not mark as one: the brace is not part of the signature
    ("svc/store.go", "Store", (), "type Store struct"),
    ("svc/store.go", "Lister", (), "type Lister interface"),
    ("svc/ledger.rs", "Ledger", (), "#[derive(Debug, Clone)]\npub struct Ledger"),
    (
        "svc/ledger.rs",
        "post",
        ("Ledger",),
        "pub fn post(&mut self, account: &str, amount: i64) -> Result<(), String>",
    ),
    ("svc/ledger.rs", "balance", ("Balance",), "fn balance(&self, account: &str) -> i64;"),
    ("jvm/Order.java", "toString", ("Order",), "@Override\npublic String toString()"),
    ("jvm/Order.java", "visit", ("Order", "Visitor"), "void visit(Order order);"),
    ("native/buffer.c", "buffer_new", (), "struct buffer *buffer_new(size_t capacity)"),
    # a prototype in a header behind an include guard is the header's API
    ("native/buffer.h", "buffer_new", (), "struct buffer *buffer_new(size_t capacity);"),
    ("native/matrix.cpp", "Matrix", ("linalg",), "template <typename T>\nclass Matrix"),
    ("native/matrix.cpp", "at", ("linalg", "Matrix"), "T at(int r, int c) const"),
    (
        "native/Billing.cs",
        "Sum",
        ("Billing", "Invoice"),
        '[Obsolete("use Total")]\npublic decimal Sum(IEnumerable<decimal> lines)',
    ),
    ("scripts/greeter.rb", "greet", ("Shop", "Greeter"), 'def greet(greeting = "hello")'),
    (
        "scripts/Cashier.php",
        "charge",
        ("Cashier",),
        'public function charge(int $cents, string $currency = "EUR"): bool',
    ),
    ("jvm/Shipping.kt", "cost", ("Shipping",), "fun cost(parcel: Parcel): Double"),
    (
        "jvm/Shipping.kt",
        "quote",
        (),
        "fun quote(parcels: List<Parcel>, shipping: Shipping): Double",
    ),
    ("scripts/deploy.sh", "push_image", (), "function push_image"),
]


@pytest.fixture(scope="module")
def polyglot(tmp_path_factory: pytest.TempPathFactory) -> CodeMap:
    return CodeMap(copy_fixture("polyglot", tmp_path_factory.mktemp("fx") / "polyglot"))


@pytest.mark.parametrize("golden", sorted(GOLDENS))
def test_map_equals_golden(polyglot: CodeMap, golden: str) -> None:
    # the goldens were counted with o200k (the dev extra installs it)
    assert encoding_name() == "o200k_base"
    focus, tokens = GOLDENS[golden]
    text = polyglot.render(focus, tokens=tokens)
    path = DATA / golden
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert count_tokens(text) <= tokens


def test_every_language_is_parsed_and_others_listed_by_name(polyglot: CodeMap) -> None:
    ranked = {r.path: r.definitions for r in polyglot.rank(Focus())}
    unparsed = set(polyglot.selection().unparsed)
    assert unparsed == {"README.md", "scripts/tool.lua"}
    assert all(ranked[path] for path in set(ranked) - unparsed)
    assert all(not ranked[path] for path in unparsed)
    text = polyglot.render(Focus(), tokens=4_096)
    assert "\nscripts/tool.lua\n" in text


@pytest.mark.parametrize(("path", "name", "parents", "signature"), SIGNATURES)
def test_definitions_keep_signature_and_nesting(
    polyglot: CodeMap, path: str, name: str, parents: tuple[str, ...], signature: str
) -> None:
    definitions, _ = polyglot.find(name)
    found = [(d.parents, d.signature) for d in definitions if d.path == path]
    assert (parents, signature) in found, found


@pytest.mark.parametrize(
    ("path", "name", "category"),
    [
        ("native/matrix.cpp", "trace", "function"),  # in a namespace, not a class
        ("native/matrix.cpp", "at", "method"),
        ("native/matrix.cpp", "linalg", "namespace"),
        ("svc/ledger.rs", "post", "method"),  # in an impl
        ("app/models.py", "parse_line", "method"),
    ],
)
def test_functions_are_methods_only_inside_a_type(
    polyglot: CodeMap, path: str, name: str, category: str
) -> None:
    definitions, _ = polyglot.find(name)
    assert [d.category for d in definitions if d.path == path] == [category]


def test_a_small_budget_keeps_the_enclosing_definitions(polyglot: CodeMap) -> None:
    focus = Focus(identifiers={"parse_line": 1.0})
    text = polyglot.render(focus, tokens=60)
    assert text.startswith("app/models.py:\n")
    # the method shows under its class, indented, with its decorator
    assert "class Inventory:" in text
    assert "    @staticmethod\n" in text
    assert text.index("class Inventory:") < text.index("def parse_line(")


def test_zero_tokens_is_no_map(polyglot: CodeMap) -> None:
    assert polyglot.render(Focus(), tokens=0) == ""
