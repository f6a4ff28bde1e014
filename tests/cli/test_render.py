"""The event renderer on a non-terminal console (what pipes and logs see)."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from mnemocode.cli.render import Renderer, extract_diff, result_summary
from mnemocode.core.events import (
    ErrorEvent,
    ModelCallFinished,
    Notice,
    TextDeltaEvent,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutputDelta,
    TurnFinished,
    TurnStarted,
)
from mnemocode.core.types import ToolCall, ToolResult, Usage

DIFF = """--- a/src/x.py
+++ b/src/x.py
@@ -1,3 +1,4 @@
 import os
-x = 1
+x = 2
+y = 3
 print(x)
"""


def make() -> tuple[Renderer, StringIO]:
    out = StringIO()
    return Renderer(Console(file=out, force_terminal=False, width=100)), out


def test_streamed_text_is_printed_once_as_markdown() -> None:
    renderer, out = make()
    renderer(TurnStarted(1, "hi"))
    for piece in ["# Title\n\n", "some **bold", "** text"]:
        renderer(TextDeltaEvent(piece))
    assert out.getvalue() == ""  # nothing final yet
    renderer(ModelCallFinished("m", Usage(10, 5), None, 0.1))
    renderer(TurnFinished("", "end_turn", Usage(1200, 34), 0.0123, 1))
    text = out.getvalue()
    assert text.count("Title") == 1
    assert "some bold text" in text  # markdown rendered, not raw
    assert "**" not in text
    assert "1.2k in · 34 out · $0.0123" in text


def test_tool_call_is_one_compact_line_with_summary() -> None:
    renderer, out = make()
    call = ToolCall("c1", "shell_exec", {"command": "pytest -q"})
    renderer(TurnStarted(1, "run"))
    renderer(ToolCallStarted(call))
    renderer(ToolOutputDelta("c1", "line 1\nline 2\n"))
    result = ToolResult.of_text(call, "Exit code: 1\n" + "\n".join(f"l{i}" for i in range(42)))
    renderer(ToolCallFinished(call, result, 0.2))
    lines = out.getvalue().splitlines()
    assert lines == ["● shell_exec  pytest -q", "  ⎿ exit 1 · 42 lines"]


def test_edit_result_diff_is_summarised_and_shown() -> None:
    renderer, out = make()
    call = ToolCall("c1", "file_edit", {"path": "src/x.py"})
    renderer(ToolCallFinished(call, ToolResult.of_text(call, "Edited src/x.py.\n" + DIFF), 0.0))
    text = out.getvalue()
    assert "● file_edit  src/x.py" in text
    assert "⎿ edited src/x.py (+2 -1)" in text
    assert "+y = 3" in text and "-x = 1" in text


def test_error_result_and_error_event_in_one_line() -> None:
    renderer, out = make()
    call = ToolCall("c1", "file_write", {"path": "a.py", "content": "x"})
    denied = ToolResult.of_text(call, "Denied by user: not now.\nDo not retry.", is_error=True)
    renderer(ToolCallFinished(call, denied, 0.0))
    renderer(ErrorEvent("model 'x': boom\nsecond line", "ModelServerError"))
    renderer(Notice("warning", "stalled"))
    lines = out.getvalue().splitlines()
    assert "  ⎿ Denied by user: not now." in lines
    assert "✗ model 'x': boom second line" in lines
    assert "stalled" in lines


def test_helpers() -> None:
    assert extract_diff("no diff here") is None
    assert extract_diff("Wrote it.\n" + DIFF) == DIFF.rstrip("\n")
    call = ToolCall("c", "glob", {"pattern": "*.py"})
    assert result_summary(call, ToolResult.of_text(call, "a.py\nb.py")) == "2 lines"
    assert result_summary(call, ToolResult.of_text(call, "")) == "no output"
    shell = ToolCall("c", "shell_exec", {"command": "make"})
    killed = "Timed out after 5s; the process group was killed.\nExit code: -9\nbuilding"
    assert result_summary(shell, ToolResult.of_text(shell, killed)) == "timed out · 1 line"
    quiet = "Exit code: 0\n(no output)"
    assert result_summary(shell, ToolResult.of_text(shell, quiet)) == "exit 0 · no output"


def test_live_region_on_a_terminal_leaves_only_final_output() -> None:
    out = StringIO()
    console = Console(file=out, force_terminal=True, width=80, height=20, color_system=None)
    renderer = Renderer(console)
    assert renderer.live_enabled
    renderer(TurnStarted(1, "hi"))
    renderer(TextDeltaEvent("hello "))
    renderer(TextDeltaEvent("world"))
    with renderer.suspend():
        console.print("question?")
    renderer(ModelCallFinished("m", Usage(1, 1), None, 0.1))
    renderer(TurnFinished("hello world", "end_turn", Usage(1, 1), None, 1))
    assert renderer._live is None
    text = out.getvalue()
    assert "question?" in text and "hello world" in text
