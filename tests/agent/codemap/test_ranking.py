"""The ranking follows the task: identifiers and paths the task mentions, files in the
conversation and recently changed files come first; ``find`` answers with the right
``file:line``; the map fits its budget. A real git repository (``repo.FILES``)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from mnemocode.agent.codemap import CodeMap
from mnemocode.agent.codemap.focus import focus_from_text
from mnemocode.agent.codemap.types import Focus
from mnemocode.llm.tokens import count_tokens
from tests.agent.codemap.repo import FILES, make_repo, many_files


@pytest.fixture(scope="module")
def cm(tmp_path_factory: pytest.TempPathFactory) -> CodeMap:
    return CodeMap(make_repo(tmp_path_factory.mktemp("rank") / "work", many_files(20)))


def _order(cm: CodeMap, focus: Focus) -> list[str]:
    return [r.path for r in cm.rank(focus)]


def _from_text(cm: CodeMap, text: str, chat_files: tuple[str, ...] = ()) -> Focus:
    return focus_from_text(text, root=cm.root, files=cm.selection().files, chat_files=chat_files)


def test_every_candidate_file_is_ranked(cm: CodeMap) -> None:
    assert sorted(_order(cm, Focus())) == sorted(cm.selection().files)
    assert "README.md" in _order(cm, Focus())


@pytest.mark.parametrize(
    ("task", "first"),
    [
        ("LedgerStore.flush_pending_rows drops the last row", "pkg/ledger.py"),
        # report.py's restart must not all flow on to shapes.py, which it uses
        ("make `summary_line` print two decimals", "pkg/report.py"),
        ("helper_013 returns the wrong sum", "pkg/mod_013.py"),
    ],
)
def test_a_mentioned_identifier_puts_its_defining_file_first(
    cm: CodeMap, task: str, first: str
) -> None:
    assert _order(cm, _from_text(cm, task))[0] == first


def test_the_map_opens_with_the_mentioned_definition(cm: CodeMap) -> None:
    text = cm.render(_from_text(cm, "make `summary_line` print two decimals"), tokens=200)
    assert text.startswith("pkg/report.py:\n⋮\n4│def summary_line(radius: float) -> str:\n")


def test_two_tasks_rank_the_same_repository_differently(cm: CodeMap) -> None:
    ledger = _order(cm, Focus(identifiers={"flush_pending_rows": 1.0}))
    shapes = _order(cm, Focus(identifiers={"Circle": 1.0}))
    assert (ledger[0], shapes[0]) == ("pkg/ledger.py", "pkg/shapes.py")
    rendered = [
        cm.render(Focus(identifiers={name: 1.0}), tokens=400) for name in ("LedgerStore", "area")
    ]
    assert rendered[0].startswith("pkg/ledger.py:\n")
    assert rendered[1].startswith("pkg/shapes.py:\n")


def test_a_mentioned_path_comes_first(cm: CodeMap) -> None:
    assert _order(cm, _from_text(cm, "the rounding in pkg/mod_007.py is off"))[0] == (
        "pkg/mod_007.py"
    )
    assert _order(cm, Focus(files={"pkg/mod_004.py": 1.0}))[0] == "pkg/mod_004.py"


def test_files_in_the_conversation_weigh_more(cm: CodeMap) -> None:
    plain = {r.path: r.score for r in cm.rank(_from_text(cm, "tidy this up"))}
    chat = cm.rank(_from_text(cm, "tidy this up", chat_files=("pkg/mod_011.py",)))
    assert chat[0].path == "pkg/mod_011.py"
    assert chat[0].score > plain["pkg/mod_011.py"]


def test_recently_changed_files_rise(cm: CodeMap) -> None:
    before = _order(cm, Focus())
    after = _order(cm, Focus(changed=("pkg/mod_017.py",)))
    assert after.index("pkg/mod_017.py") < before.index("pkg/mod_017.py")


def test_find_answers_with_file_and_line(cm: CodeMap) -> None:
    definitions, references = cm.find("make_circle")
    assert [(d.path, d.line, d.signature) for d in definitions] == [
        ("pkg/shapes.py", 9, "def make_circle(radius: float) -> Circle:")
    ]
    assert sorted((r.path, r.line) for r in references) == [
        ("main.py", 3),
        ("main.py", 8),
        ("pkg/report.py", 1),
        ("pkg/report.py", 5),
    ]
    methods, _ = cm.find("area")
    assert [(d.path, d.line, d.parents, d.category) for d in methods] == [
        ("pkg/shapes.py", 5, ("Circle",), "method")
    ]
    assert cm.find("no_such_name") == ([], [])


def test_the_map_fits_its_budget_and_grows_with_it(cm: CodeMap) -> None:
    focus = Focus(identifiers={"summary_line": 1.0})
    maps = [cm.render(focus, tokens=n) for n in (40, 120, 400, 4_000)]
    for n, text in zip((40, 120, 400, 4_000), maps, strict=True):
        assert 0 < count_tokens(text) <= n
    for small, big in pairwise(maps):
        assert set(small.splitlines()) <= set(big.splitlines())
        assert len(small) < len(big)
    # the largest budget holds every file and every definition
    assert all(path in maps[-1] for path in FILES if path != "pkg/__init__.py")
    assert "def flush_pending_rows(self, limit: int = 100) -> int:" in maps[-1]


def test_a_changed_tree_is_ranked_again(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "work")
    cm = CodeMap(root)
    focus = Focus(identifiers={"archive_rows": 1.0})
    assert _order(cm, focus)[0] != "pkg/archive.py"
    (root / "pkg/archive.py").write_text("def archive_rows() -> None: ...\n", encoding="utf-8")
    assert _order(cm, focus)[0] == "pkg/archive.py"
