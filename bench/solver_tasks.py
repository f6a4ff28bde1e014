"""The scripted change tasks of ``bench/solver_cost.py``: small real repositories and
the answers a plausible model gives, once as the direct tool loop and once as the
context-first solver (plan → solve → review).

The scripts are the model's side only: files, git, the tools, ruff and pytest are
real, and each task checks its end state (tests pass, lint clean) so a script that
no longer fits the harness shows up as a failed task, not as a cheap one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnemocode.llm.testing import Turn, call, calls, text, tool_call

PY = sys.executable
PYTEST = f"{PY} -m pytest -q"
RUFF = f"{PY} -m ruff check ."


@dataclass(frozen=True)
class Task:
    name: str
    prompt: str
    files: dict[str, str]
    direct: Callable[[], list[Turn]]
    context: Callable[[], list[Turn]]
    check: str  # a command that exits 0 once the task is done

    def lay_out(self, root: Path) -> None:
        for rel, body in self.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(body)
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
        subprocess.run([*git, "init", "-q"], cwd=root, check=True)
        subprocess.run([*git, "add", "-A"], cwd=root, check=True)
        subprocess.run([*git, "commit", "-qm", "start"], cwd=root, check=True)

    def done(self, root: Path) -> bool:
        finished = subprocess.run(
            self.check, shell=True, cwd=root, capture_output=True, check=False
        )
        return finished.returncode == 0


PYPROJECT = '[project]\nname = "demo"\nversion = "0"\n\n[tool.ruff]\nline-length = 100\n'

# ---- 1. a bug fix with a failing test ------------------------------------------------

PRICES = '''\
def total(items: list[tuple[str, float, int]]) -> float:
    """Sum of price × quantity."""
    return sum(price for _name, price, _qty in items)


def discount(amount: float, percent: float) -> float:
    return amount * (1 - percent / 100)
'''
TEST_PRICES = """\
from prices import discount, total


def test_total_counts_quantities() -> None:
    assert total([("pen", 1.5, 2), ("ink", 4.0, 1)]) == 7.0


def test_discount() -> None:
    assert discount(200.0, 10) == 180.0
"""
BUG_OLD = "return sum(price for _name, price, _qty in items)"
BUG_NEW = "return sum(price * qty for _name, price, qty in items)"


def bugfix_direct() -> list[Turn]:
    return [
        calls(call("file_read", path="prices.py"), call("file_read", path="test_prices.py")),
        tool_call("file_edit", path="prices.py", old_string=BUG_OLD, new_string=BUG_NEW),
        tool_call("shell_exec", command=f"{PYTEST} test_prices.py"),
        text("`total` ignored the quantity; it now sums price × quantity. Tests pass."),
    ]


# ---- 2. a rename across files --------------------------------------------------------

USERS = """\
from dataclasses import dataclass


@dataclass
class User:
    id: int
    name: str


def fetch_user(user_id: int) -> User:
    return User(user_id, f"user{user_id}")
"""
VIEWS = """\
from users import fetch_user


def profile(user_id: int) -> str:
    user = fetch_user(user_id)
    return f"<h1>{user.name}</h1>"
"""
JOBS = """\
from users import fetch_user


def nightly(ids: list[int]) -> list[str]:
    return [fetch_user(i).name for i in ids]
"""
TEST_USERS = """\
from jobs import nightly
from users import load_user
from views import profile


def test_load_user() -> None:
    assert load_user(3).name == "user3"


def test_callers() -> None:
    assert profile(1) == "<h1>user1</h1>" and nightly([2]) == ["user2"]
"""


def rename_direct() -> list[Turn]:
    return [
        tool_call("grep", pattern="fetch_user", path="."),
        calls(
            call("file_read", path="users.py"),
            call("file_read", path="views.py"),
            call("file_read", path="jobs.py"),
        ),
        calls(
            call(
                "file_edit",
                path="users.py",
                old_string="def fetch_user(",
                new_string="def load_user(",
            ),
            call(
                "file_edit",
                path="views.py",
                old_string="fetch_user",
                new_string="load_user",
                replace_all=True,
            ),
            call(
                "file_edit",
                path="jobs.py",
                old_string="fetch_user",
                new_string="load_user",
                replace_all=True,
            ),
        ),
        tool_call("shell_exec", command=PYTEST),
        text("Renamed `fetch_user` to `load_user` in users.py and its two callers."),
    ]


# ---- 3. a new function plus its test -------------------------------------------------

TEXTS = """\
def shout(s: str) -> str:
    return s.upper() + "!"
"""
SLUGIFY = '''

def slugify(s: str) -> str:
    """Lower case, runs of non-alphanumerics as one hyphen, no hyphen at the ends."""
    out, dash = [], False
    for ch in s.lower():
        if ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).rstrip("-")
'''
TEST_SLUGIFY = """\
from texts import slugify


def test_slugify() -> None:
    assert slugify("  Hello, World!  ") == "hello-world"
    assert slugify("a--b") == "a-b"
"""


def feature_direct() -> list[Turn]:
    return [
        tool_call("file_read", path="texts.py"),
        calls(
            call(
                "file_edit",
                path="texts.py",
                old_string='    return s.upper() + "!"\n',
                new_string='    return s.upper() + "!"\n' + SLUGIFY,
            ),
            call("file_write", path="test_texts.py", content=TEST_SLUGIFY),
        ),
        tool_call("shell_exec", command=f"{PYTEST} test_texts.py"),
        text("Added `slugify` to texts.py with a test in test_texts.py; it passes."),
    ]


# ---- 4. a lint error -----------------------------------------------------------------

REPORT = """\
import os
import json


def render(rows: list[dict[str, int]]) -> str:
    return json.dumps(rows, indent=2)


def save(rows: list[dict[str, int]], path: str) -> None:
    with open(path, "w") as f:
        f.write(render(row))
"""
REPORT_FIXED_OLD = "import os\nimport json\n"
REPORT_FIXED_NEW = "import json\n"


def lint_direct() -> list[Turn]:
    return [
        tool_call("shell_exec", command=RUFF),
        tool_call("file_read", path="report.py"),
        calls(
            call(
                "file_edit",
                path="report.py",
                old_string=REPORT_FIXED_OLD,
                new_string=REPORT_FIXED_NEW,
            ),
            call(
                "file_edit",
                path="report.py",
                old_string="f.write(render(row))",
                new_string="f.write(render(rows))",
            ),
        ),
        tool_call("shell_exec", command=RUFF),
        text("Removed the unused `os` import and fixed `row` → `rows` in `save`; ruff is clean."),
    ]


# ---- 5. a larger repository that needs the plan step --------------------------------


def _module(i: int) -> str:
    lines = [f'"""Shipping rule {i}."""', "", "from shipping.base import Rule", ""]
    lines += [f"class Rule{i}(Rule):", f'    """Applies to zone {i}."""', ""]
    for j in range(12):
        lines += [
            f"    def step_{j}(self, weight: float) -> float:",
            f"        # zone {i}, band {j}: a flat fee plus a per-kilogram rate",
            f"        return self.fee({i}, {j}) + weight * {j + 1}.{i:02d}",
            "",
        ]
    return "\n".join(lines) + "\n"


BASE = """\
class Rule:
    def fee(self, zone: int, band: int) -> float:
        return zone * 0.5 + band
"""
ROUNDING = '''\
def round_price(value: float) -> float:
    """Round to the cent, halves up."""
    return int(value * 100) / 100
'''
TEST_ROUNDING = """\
from shipping.rounding import round_price


def test_round_price_halves_up() -> None:
    assert round_price(2.675) == 2.68
    assert round_price(1.004) == 1.0
"""
ROUND_OLD = "return int(value * 100) / 100"
ROUND_NEW = "return math.floor(value * 100 + 0.5 + 1e-9) / 100"


def large_files() -> dict[str, str]:
    files = {f"shipping/rules/rule_{i:02d}.py": _module(i) for i in range(60)}
    files |= {"shipping/__init__.py": "", "shipping/rules/__init__.py": ""}
    files |= {"shipping/base.py": BASE, "shipping/rounding.py": ROUNDING}
    files |= {"tests/test_rounding.py": TEST_ROUNDING, "pyproject.toml": PYPROJECT}
    return files


def large_direct() -> list[Turn]:
    return [
        tool_call("grep", pattern="def round_price", path="."),
        calls(
            call("file_read", path="shipping/rounding.py"),
            call("file_read", path="tests/test_rounding.py"),
        ),
        tool_call(
            "file_edit",
            path="shipping/rounding.py",
            old_string=f"def round_price(value: float) -> float:\n    "
            f'"""Round to the cent, halves up."""\n    {ROUND_OLD}',
            new_string=f"def round_price(value: float) -> float:\n    "
            f'"""Round to the cent, halves up."""\n    {ROUND_NEW}',
        ),
        tool_call(
            "file_edit",
            path="shipping/rounding.py",
            old_string="def round_price(",
            new_string="import math\n\n\ndef round_price(",
        ),
        tool_call("shell_exec", command=f"{PYTEST} tests/test_rounding.py"),
        text("`round_price` truncated; it now rounds halves up. The test passes."),
    ]


# ---- the context-first solver's answers: [plan,] solve, review ----------------------

REVIEW_OK = tool_call("submit_review", verdict="ok", problems=[])


def bugfix_context() -> list[Turn]:
    fix = call("edit", path="prices.py", old_string=BUG_OLD, new_string=BUG_NEW)
    return [calls(fix, text="`total` ignored the quantity; it now multiplies."), REVIEW_OK]


def rename_context() -> list[Turn]:
    edits = [
        call("edit", path="users.py", old_string="def fetch_user(", new_string="def load_user("),
        *(
            call("edit", path=p, old_string="fetch_user", new_string="load_user", replace_all=True)
            for p in ("views.py", "jobs.py")
        ),
    ]
    return [calls(*edits, text="Renamed `fetch_user` to `load_user` and its callers."), REVIEW_OK]


def feature_context() -> list[Turn]:
    add = call(
        "edit",
        path="texts.py",
        old_string='    return s.upper() + "!"\n',
        new_string='    return s.upper() + "!"\n' + SLUGIFY,
    )
    test = call("write", path="test_texts.py", content=TEST_SLUGIFY)
    return [calls(add, test, text="Added `slugify` with a test."), REVIEW_OK]


def lint_context() -> list[Turn]:
    imports = call(
        "edit", path="report.py", old_string=REPORT_FIXED_OLD, new_string=REPORT_FIXED_NEW
    )
    name = call(
        "edit",
        path="report.py",
        old_string="f.write(render(row))",
        new_string="f.write(render(rows))",
    )
    return [calls(imports, name, text="Dropped the unused import; `row` → `rows`."), REVIEW_OK]


def large_context() -> list[Turn]:
    plan = tool_call(
        "submit_plan",
        files=[{"path": "shipping/rounding.py"}, {"path": "tests/test_rounding.py"}],
        searches=["def round_price"],
        approach="round halves up with math.floor(value * 100 + 0.5)",
    )
    fix = call(
        "edit",
        path="shipping/rounding.py",
        old_string=f'def round_price(value: float) -> float:\n    """Round to the cent, halves '
        f'up."""\n    {ROUND_OLD}',
        new_string=f'import math\n\n\ndef round_price(value: float) -> float:\n    """Round to '
        f'the cent, halves up."""\n    {ROUND_NEW}',
    )
    return [plan, calls(fix, text="`round_price` now rounds halves up."), REVIEW_OK]


TASKS = [
    Task(
        "bug fix, failing test",
        "test_prices.py fails: total() should count quantities. Fix it.",
        {"prices.py": PRICES, "test_prices.py": TEST_PRICES, "pyproject.toml": PYPROJECT},
        bugfix_direct,
        bugfix_context,
        PYTEST,
    ),
    Task(
        "rename across files",
        "Rename fetch_user to load_user everywhere.",
        {
            "users.py": USERS,
            "views.py": VIEWS,
            "jobs.py": JOBS,
            "test_users.py": TEST_USERS,
            "pyproject.toml": PYPROJECT,
        },
        rename_direct,
        rename_context,
        PYTEST,
    ),
    Task(
        "new function + test",
        "Add slugify(s) to texts.py (lower case, hyphens between words) with a test.",
        {"texts.py": TEXTS, "pyproject.toml": PYPROJECT},
        feature_direct,
        feature_context,
        f"{PYTEST} test_texts.py",
    ),
    Task(
        "lint error",
        "ruff fails on report.py; fix it.",
        {"report.py": REPORT, "pyproject.toml": PYPROJECT},
        lint_direct,
        lint_context,
        RUFF,
    ),
    Task(
        "larger repo, plan needed",
        "round_price should round halves up (2.675 → 2.68); tests/test_rounding.py fails.",
        large_files(),
        large_direct,
        large_context,
        PYTEST,
    ),
]
