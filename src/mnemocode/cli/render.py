"""Rendering agent events on a rich console.

``Renderer`` is the ``emit`` callback of a turn. On a terminal one ``Live``
region per turn shows what is in flight (the answer streaming as Markdown, a
spinner, the last lines of a running command) while finished things are printed
above it for good: the final Markdown of each model call, one compact line per
tool call with its result summary, coloured diffs, errors and notices. On a
non-terminal console (pipes, tests) there is no live region, only the final
output.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.spinner import Spinner
from rich.syntax import Syntax
from rich.text import Text

from mnemocode.cli.render_ladder import LadderEvent, ladder_line, running_label
from mnemocode.core.events import (
    AgentEvent,
    ErrorEvent,
    Escalated,
    ModelCallFinished,
    Notice,
    ReasoningDeltaEvent,
    SolverStep,
    StrategyChosen,
    SubagentEvent,
    TextDeltaEvent,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutputDelta,
    TurnFinished,
    TurnStarted,
)
from mnemocode.core.types import ToolCall, ToolResult, Usage

TAIL_LINES = 5
MAX_DIFF_LINES = 80
_MAIN_ARGUMENT = {
    "shell_exec": "command",
    "file_read": "path",
    "file_write": "path",
    "file_edit": "path",
    "glob": "pattern",
    "grep": "pattern",
    "web_fetch": "url",
    "web_search": "query",
    "memory_search": "query",
}
# shell_exec results start with "Exit code: N" (after "Timed out ..." when killed).
_EXIT = re.compile(r"^exit code: (-?\d+|None)$", re.IGNORECASE | re.MULTILINE)
# What the agent tells the model about a call the user cancelled while it ran.
_INTERRUPTED = re.compile(r"^Interrupted by the user after ([\d.]+)s")
_SO_FAR = "Output so far:\n"
_DIFF_START = re.compile(r"^(--- |\+\+\+ |@@ )", re.MULTILINE)


# ---- small pure helpers (also used by the approver and commands) ------------------


def one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def call_summary(call: ToolCall) -> str:
    """The argument that says what a call does (command, path, pattern...)."""
    key = _MAIN_ARGUMENT.get(call.name)
    value = call.arguments.get(key) if key else None
    if isinstance(value, str):
        return one_line(value)
    return one_line(json.dumps(call.arguments, ensure_ascii=False, default=str))


def extract_diff(text: str) -> str | None:
    """The unified diff inside a tool result or preview, if there is one."""
    match = _DIFF_START.search(text)
    if match is None or "\n@@" not in "\n" + text[match.start() :]:
        return None
    return text[match.start() :].rstrip("\n")


def diff_hunks(diff: str) -> str:
    """The hunks of a diff without its file headers: a preview and the result of
    the same edit have equal hunks even when their headers name the file differently."""
    lines = diff.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("@@")), len(lines))
    return "\n".join(lines[start:])


def diff_stats(diff: str) -> tuple[int, int]:
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def diff_renderable(diff: str, max_lines: int = MAX_DIFF_LINES) -> RenderableType:
    lines = diff.splitlines()
    shown = "\n".join(lines[:max_lines])
    syntax = Syntax(shown, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
    if len(lines) <= max_lines:
        return syntax
    return Group(syntax, Text(f"… {len(lines) - max_lines} more diff lines", style="dim"))


def _count_lines(text: str) -> int:
    return len(text.splitlines())


def result_summary(call: ToolCall, result: ToolResult) -> str:
    """One short line about a tool result, e.g. ``exit 1 · 42 lines``."""
    text = result.text.strip()
    interrupted = interrupted_output(result)
    if interrupted is not None:
        seconds, output = interrupted
        lines = _count_lines(output)
        count = f"{lines} line{'s' if lines != 1 else ''} of output" if lines else "no output"
        return f"interrupted after {seconds} · {count}"
    if result.is_error:
        return one_line(text.splitlines()[0] if text else "failed", 120)
    diff = extract_diff(text)
    if call.name in {"file_write", "file_edit"}:
        path = call.arguments.get("path", "?")
        verb = "edited" if call.name == "file_edit" else "wrote"
        if diff is not None:
            added, removed = diff_stats(diff)
            return f"{verb} {path} (+{added} -{removed})"
        return one_line(text.splitlines()[0], 120) if text else f"{verb} {path}"
    if call.name == "shell_exec":
        return _shell_summary(text)
    if not text:
        return "no output"
    lines = _count_lines(text)
    if lines == 1:
        return one_line(text, 100)
    return f"{lines} lines"


def interrupted_output(result: ToolResult) -> tuple[str, str] | None:
    """``("2.5s", output so far)`` of a call the user interrupted; None otherwise."""
    match = _INTERRUPTED.match(result.text) if result.is_error else None
    if match is None:
        return None
    _, found, output = result.text.partition(_SO_FAR)
    return f"{match.group(1)}s", output if found else ""


def split_shell_output(text: str) -> tuple[str, str]:
    """``(status, output)`` of a shell_exec result: "exit 1" / "timed out", and the rest."""
    match = _EXIT.search(text)
    if match is None or match.start() > 200:
        return "", text
    status = f"exit {match.group(1)}"
    if text[: match.start()].lower().startswith("timed out"):
        status = "timed out"
    output = text[match.end() :].lstrip("\n")
    return status, "" if output == "(no output)" else output


def _shell_summary(text: str) -> str:
    if text.startswith("Still running in the background"):
        return one_line(text.split(";", maxsplit=1)[0], 80)
    status, output = split_shell_output(text)
    lines = _count_lines(output)
    count = f"{lines} line{'s' if lines != 1 else ''}" if lines else "no output"
    return f"{status} · {count}" if status else count


def format_tokens(count: int) -> str:
    if count < 1000:
        return str(count)
    if count < 100_000:
        return f"{count / 1000:.1f}k"
    return f"{count // 1000}k"


def format_elapsed(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole}s" if whole < 60 else f"{whole // 60}m {whole % 60:02d}s"


def format_cost(cost: float | None) -> str:
    if cost is None:
        return "—"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def usage_line(usage: Usage, cost: float | None) -> str:
    return (
        f"{format_tokens(usage.input_tokens)} in · {format_tokens(usage.output_tokens)} out"
        f" · {format_cost(cost)}"
    )


# ---- the live region ----------------------------------------------------------------


class _Tail:
    """Renders only the last ``max_lines`` lines of a renderable (long answers)."""

    def __init__(self, renderable: RenderableType, max_lines: int) -> None:
        self.renderable, self.max_lines = renderable, max_lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)
        for line in lines[-self.max_lines :]:
            yield from line
            yield Segment.line()


@dataclass(slots=True)
class _Running:
    call: ToolCall
    started: float = 0.0
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    partial: str = ""

    def feed(self, text: str) -> None:
        pieces = (self.partial + text).split("\n")
        self.partial = pieces.pop()
        self.tail.extend(p for p in pieces if p.strip())


class Renderer:
    """``emit`` for a turn: call it with every ``AgentEvent``."""

    def __init__(
        self, console: Console, *, refresh_per_second: float = 8.0, live: bool | None = None
    ) -> None:
        self.console = console
        # Diffs the approver already showed before asking; not printed twice.
        self.previewed: set[str] = set()
        if live is None:
            live = console.is_terminal and not console.is_dumb_terminal
        self.live_enabled = live
        # The latest notice of each topic (a retry), shown in the live region.
        self._topics: dict[str, str] = {}
        self._refresh = refresh_per_second
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._text: list[str] = []
        self._thinking = ""
        self._running: dict[str, _Running] = {}
        self._label = "thinking…"
        self._waiting = False
        self._turn_started = 0.0
        # One spinner for the whole turn: it animates from the time it first rendered.
        self._spinner = Spinner("dots", style="cyan")
        self.in_turn = False

    # ---- dispatch ---------------------------------------------------------------

    def __call__(self, event: AgentEvent) -> None:
        if isinstance(event, TurnStarted):
            self.begin()
        elif isinstance(event, TextDeltaEvent):
            with self._lock:
                self._text.append(event.text)
                self._waiting = False
                self._topics.clear()
        elif isinstance(event, ReasoningDeltaEvent):
            with self._lock:
                self._thinking = (self._thinking + event.text)[-200:]
        elif isinstance(event, ModelCallFinished):
            with self._lock:
                self._topics.clear()
            self._flush_text()
        elif isinstance(event, ToolCallStarted):
            self._flush_text()
            with self._lock:
                self._running[event.call.id] = _Running(event.call, self.console.get_time())
                self._label = f"running {event.call.name}…"
                self._waiting = True
        elif isinstance(event, ToolOutputDelta):
            with self._lock:
                running = self._running.get(event.call_id)
                if running is not None:
                    running.feed(event.text)
        elif isinstance(event, ToolCallFinished):
            with self._lock:
                self._running.pop(event.call.id, None)
                if not self._running:
                    self._label, self._waiting = "thinking…", True
            self.print_tool(event.call, event.result, event.duration_s)
        elif isinstance(event, Notice):
            self._notice(event)
        elif isinstance(event, TurnFinished):
            self._finish_turn(event)
        elif isinstance(
            event, ErrorEvent | StrategyChosen | Escalated | SolverStep | SubagentEvent
        ):
            self._aside(event)

    def _nested(self, event: SubagentEvent) -> None:
        """A sub-agent's work, one indented line per step under its ``task`` call."""
        depth, agent, inner = event.depth, event.agent, event.event
        while isinstance(inner, SubagentEvent):
            depth, agent, inner = inner.depth, inner.agent, inner.event
        pad = "  " * depth + f"↳ {agent}: "
        line: str | None = None
        if isinstance(inner, ToolCallStarted):
            with self._lock:
                self._label = f"{event.agent}: running {inner.call.name}…"
        elif isinstance(inner, ToolCallFinished):
            mark = "✗" if inner.result.is_error else "✓"
            line = f"{mark} {one_line(result_summary(inner.call, inner.result), 90)}"
        elif isinstance(inner, Notice | ErrorEvent):
            line = one_line(inner.message, 200)
        elif isinstance(inner, TurnFinished):
            line = f"done ({inner.stop_reason}, {inner.iterations} iterations)"
        if line is not None:
            self._flush_text()
            self.console.print(Text(pad + line, style="dim"))

    def _aside(self, event: ErrorEvent | LadderEvent | SubagentEvent) -> None:
        """An error, the strategy picked, an escalation, a solver step, a sub-agent's step."""
        if isinstance(event, SubagentEvent):
            self._nested(event)
            return
        if isinstance(event, ErrorEvent):
            self._flush_text()
            self.console.print(Text(f"✗ {one_line(event.message, 300)}", style="bold red"))
            return
        label, line = running_label(event), ladder_line(event)
        if label is not None:
            with self._lock:
                self._label, self._waiting = label, True
        if line is not None:
            self._flush_text()
            self.console.print(line)

    def _notice(self, event: Notice) -> None:
        if event.topic and self._live is not None:  # one line that updates (retries)
            with self._lock:
                self._topics[event.topic] = event.message
            return
        self._flush_text()
        style = "yellow" if event.level == "warning" else "dim"
        self.console.print(Text(event.message, style=style))

    # ---- turn lifecycle ----------------------------------------------------------

    def begin(self) -> None:
        """A turn (or a ``!cmd``) starts: clear the state, show the spinner."""
        with self._lock:
            self._text.clear()
            self._running.clear()
            self._topics.clear()
            self._thinking = ""
            self._label, self._waiting = "thinking…", True
            self._spinner = Spinner("dots", style="cyan")
        self._turn_started = self.console.get_time()
        self.in_turn = True
        self._start_live()

    def begin_tool(self, call: ToolCall) -> None:
        """A tool call outside a turn (``!cmd``): its live output tail."""
        self.begin()
        self(ToolCallStarted(call))

    def _finish_turn(self, event: TurnFinished) -> None:
        text = self._take_text()
        if text:
            self._print_markdown(text)
        elif event.stop_reason not in {"end_turn", "error", "stall"} and event.text:
            self.console.print(Text(event.text, style="yellow"))
        self.end_turn()
        elapsed = self.console.get_time() - self._turn_started
        line = f"{usage_line(event.usage, event.cost_usd)} · {elapsed:.1f}s"
        self.console.print(Text(line, style="dim"))

    def end_turn(self, *, interrupted: bool = False) -> None:
        """Stop every live display; safe to call twice. ``interrupted``: the user
        cancelled; calls still running stay on screen, marked so."""
        self._flush_text()
        self.in_turn = False
        self._stop_live()
        with self._lock:
            self._topics.clear()
            if not interrupted:
                self._running.clear()
        self._settle_running()

    @contextmanager
    def suspend(self) -> Iterator[None]:
        """Take the live region off the screen (to ask the user something)."""
        self._flush_text()
        self._stop_live()
        try:
            yield
        finally:
            if self.in_turn:
                self._start_live()

    @contextmanager
    def status(self, label: str) -> Iterator[None]:
        """A spinner while something outside a turn runs (/btw, /model)."""
        if not self.live_enabled:
            yield
            return
        with self.console.status(label, spinner="dots"):
            yield

    # ---- output ------------------------------------------------------------------

    def print_tool(self, call: ToolCall, result: ToolResult, duration_s: float = 0.0) -> None:
        head = Text("● ", style="red" if result.is_error else "green")
        head.append(call.name, style="bold")
        head.append("  " + call_summary(call))
        self.console.print(head)
        tail = Text("  ⎿ ", style="dim")
        tail.append(result_summary(call, result), style="red" if result.is_error else "dim")
        interrupted = interrupted_output(result)
        if duration_s >= 1 and interrupted is None:  # an interruption says how long itself
            tail.append(f" · {duration_s:.1f}s", style="dim")
        self.console.print(tail)
        if interrupted is not None:
            self._print_tail(interrupted[1].splitlines())
        diff = None if result.is_error else extract_diff(result.text)
        if diff is not None and diff_hunks(diff) not in self.previewed:
            self.console.print(diff_renderable(diff))
        self.previewed.clear()

    def _print_tail(self, lines: list[str]) -> None:
        shown = [line for line in lines if line.strip()][-TAIL_LINES:]
        for line in shown:
            self.console.print(Text("    " + one_line(line, 160), style="dim"), highlight=False)

    def _settle_running(self) -> None:
        """Calls still running when the turn ends (a cancel): their line stays on
        screen, marked interrupted, with the last lines they printed."""
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        now = self.console.get_time()
        for item in running:
            head = Text("● ", style="yellow")
            head.append(item.call.name, style="bold")
            head.append("  " + call_summary(item.call))
            self.console.print(head)
            lines = [*item.tail, item.partial] if item.partial.strip() else list(item.tail)
            tail = Text("  ⎿ ", style="dim")
            tail.append(f"interrupted after {now - item.started:.1f}s", style="yellow")
            self.console.print(tail)
            self._print_tail(lines)

    def running_tail(self) -> str:
        """The last output lines of the calls in flight (what the live region shows)."""
        with self._lock:
            return "\n".join(line for r in self._running.values() for line in [*r.tail, r.partial])

    def print_command_output(
        self, call: ToolCall, result: ToolResult, max_lines: int = 200
    ) -> None:
        """A ``!cmd`` the user ran: the compact lines, then the output itself."""
        self.print_tool(call, result)
        _status, output = split_shell_output(result.text)
        lines = output.rstrip("\n").splitlines()
        if len(lines) > max_lines:
            lines = [f"… {len(lines) - max_lines} lines above not shown", *lines[-max_lines:]]
        if lines:
            self.console.print(Text("\n".join(lines)), highlight=False)

    def _print_markdown(self, text: str) -> None:
        self.console.print(Markdown(text))

    def _take_text(self) -> str:
        with self._lock:
            text = "".join(self._text)
            self._text.clear()
            self._thinking = ""
        return text

    def _flush_text(self) -> None:
        text = self._take_text()
        if text.strip():
            self._print_markdown(text)

    # ---- the live region ---------------------------------------------------------

    def _start_live(self) -> None:
        if not self.live_enabled or self._live is not None:
            return
        self._live = Live(
            console=self.console,
            get_renderable=self.view,
            refresh_per_second=self._refresh,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def _stop_live(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def view(self) -> RenderableType:
        with self._lock:
            text = "".join(self._text)
            running = [(r.call, list(r.tail)) for r in self._running.values()]
            label, waiting, thinking = self._label, self._waiting, self._thinking
            topics = list(self._topics.values())
        height = max(5, self.console.size.height - 4)
        parts: list[RenderableType] = []
        if text:
            parts.append(_Tail(Markdown(text), height))
        for call, tail in running:
            line = Text("● ", style="yellow")
            line.append(call.name, style="bold")
            line.append("  " + call_summary(call))
            parts.append(line)
            parts.extend(Text("    " + one_line(t, 160), style="dim") for t in tail)
        parts.extend(Text(one_line(message, 150), style="yellow") for message in topics)
        if waiting or not text:
            elapsed = format_elapsed(self.console.get_time() - self._turn_started)
            line = Text(label, style="dim")
            line.append(f" ({elapsed} · esc to interrupt)", style="dim")
            if thinking:
                line.append(f"  {one_line(thinking[-80:], 80)}", style="dim italic")
            self._spinner.update(text=line)
            parts.append(self._spinner)
        return Group(*parts)
