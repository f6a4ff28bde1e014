"""What the live region shows while a turn runs, frame by frame: the spinner
moves, the elapsed time grows, and it says how to interrupt. A fake clock drives
the console (rich reads ``get_time`` for the spinner), so no frame depends on
wall-clock timing."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from mnemocode.cli.render import Renderer
from mnemocode.core.events import (
    ModelCallFinished,
    Notice,
    TextDeltaEvent,
    ToolCallStarted,
    ToolOutputDelta,
    TurnFinished,
    TurnStarted,
)
from mnemocode.core.types import ToolCall, ToolResult, Usage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frames(renderer: Renderer, clock: Clock, count: int, step: float) -> list[str]:
    shown: list[str] = []
    for _ in range(count):
        capture = Console(file=StringIO(), width=80, record=True, get_time=clock)
        capture.print(renderer.view())
        shown.append(capture.export_text().strip())
        clock.now += step
    return shown


def live_renderer(clock: Clock) -> Renderer:
    # Not a terminal: no Live thread; the view is what a terminal's live region shows.
    console = Console(file=StringIO(), force_terminal=False, width=80, get_time=clock)
    return Renderer(console)


def test_spinner_animates_and_shows_elapsed_time_and_how_to_interrupt() -> None:
    clock = Clock()
    renderer = live_renderer(clock)
    renderer(TurnStarted(1, "hi"))
    shown = frames(renderer, clock, 15, 0.25)
    assert len({frame.split()[0] for frame in shown}) > 5  # the glyph moves
    assert "thinking…" in shown[0] and "esc to interrupt" in shown[0]
    assert "0s" in shown[0] and "3s" in shown[-1]


def test_running_command_keeps_its_spinner_and_tail() -> None:
    clock = Clock()
    renderer = live_renderer(clock)
    renderer(TurnStarted(1, "go"))
    call = ToolCall("c1", "shell_exec", {"command": "make test"})
    renderer(ToolCallStarted(call))
    renderer(ToolOutputDelta("c1", "compiling a\ncompiling b\n"))
    first, *_, last = frames(renderer, clock, 8, 0.5)
    assert "make test" in first and "compiling b" in first
    assert "running shell_exec…" in first and "esc to interrupt" in first
    assert first.splitlines()[-1].split()[0] != last.splitlines()[-1].split()[0]


def test_retries_update_one_line_instead_of_printing_each() -> None:
    clock = Clock()
    out = StringIO()
    renderer = Renderer(Console(file=out, force_terminal=False, width=80), live=True)
    renderer(TurnStarted(1, "hi"))
    for attempt in (1, 2, 3):
        message = f"server error (HTTP 503): busy; retry {attempt} in 0.5s"
        renderer(Notice("warning", message, topic="retry"))
    (frame,) = frames(renderer, clock, 1, 0)
    assert "retry 3 in" in frame and "retry 2 in" not in frame and "retry 1 in" not in frame
    renderer(TextDeltaEvent("answer"))
    assert "retry" not in frames(renderer, clock, 1, 0)[0]
    renderer(ModelCallFinished("m", Usage(1, 1), None, 0.1))
    renderer(TurnFinished("answer", "end_turn", Usage(1, 1), None, 1))
    assert "retry" not in out.getvalue() and "answer" in out.getvalue()


def test_without_a_live_region_each_retry_is_printed() -> None:
    out = StringIO()
    renderer = Renderer(Console(file=out, force_terminal=False, width=80))
    renderer(TurnStarted(1, "hi"))
    renderer(Notice("warning", "busy; retry 1 in 0.5s", topic="retry"))
    renderer(Notice("warning", "busy; retry 2 in 0.5s", topic="retry"))
    assert "retry 1" in out.getvalue() and "retry 2" in out.getvalue()


def test_an_interrupted_call_says_its_duration_once() -> None:
    out = StringIO()
    renderer = Renderer(Console(file=out, force_terminal=False, width=100))
    call = ToolCall("c1", "shell_exec", {"command": "sleep 9"})
    text = "Interrupted by the user after 3.1s, before it finished. Output so far:\nstart"
    renderer.print_tool(call, ToolResult.of_text(call, text, is_error=True), 3.1)
    shown = out.getvalue()
    assert shown.count("3.1s") == 1 and "interrupted after 3.1s · 1 line of output" in shown
    assert "    start" in shown
