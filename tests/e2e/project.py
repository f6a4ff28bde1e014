"""A tiny project with two bugs, and the scripted fix session used by the
end-to-end tests (in-process and through `mnemo -p`)."""

from __future__ import annotations

from pathlib import Path

from mnemocode.llm.testing import Turn, call, calls, text, tool_call

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n"
TEST_CALC = """\
import sys

from calc import add, mul

failures = []
if add(2, 3) != 5:
    failures.append(f"add(2, 3) == {add(2, 3)}, expected 5")
if mul(2, 3) != 6:
    failures.append(f"mul(2, 3) == {mul(2, 3)}, expected 6")
print("FAILED: " + "; ".join(failures) if failures else "ALL PASSED")
sys.exit(1 if failures else 0)
"""
FIXED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def make_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST_CALC)
    return root


def fix_session_turns(python: str) -> list[Turn]:
    """read → fix add → run tests (fail on mul) → fix mul → run tests → answer."""
    run_tests = tool_call("shell_exec", command=f"{python} test_calc.py")
    return [
        calls(call("file_read", path="calc.py"), call("grep", pattern="def ", path=".")),
        tool_call(
            "file_edit", path="calc.py", old_string="return a - b", new_string="return a + b"
        ),
        run_tests,
        tool_call(
            "file_edit",
            path="calc.py",
            old_string="def mul(a, b):\n    return a + b",
            new_string="def mul(a, b):\n    return a * b",
        ),
        run_tests,
        text("Fixed `add` and `mul` in calc.py; test_calc.py passes."),
    ]
