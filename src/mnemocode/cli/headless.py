"""Headless mode: ``mnemo -p`` and the one-shot presets. Output formats and exit
codes are documented in the README ("Headless mode")."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from enum import StrEnum
from typing import Any, TextIO

from mnemocode import __version__
from mnemocode.app import App
from mnemocode.cli.denials import Denial, DenialTap
from mnemocode.cli.memory_process import start_memory_process
from mnemocode.cli.render_ladder import ladder_line
from mnemocode.core.errors import MnemoError
from mnemocode.core.events import (
    AgentEvent,
    Escalated,
    Notice,
    StrategyChosen,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
    event_to_dict,
)
from mnemocode.core.types import Message
from mnemocode.safety.approvers import StaticApprover

EXIT_OK = 0
EXIT_ERROR = 1  # the model or the turn failed
EXIT_USAGE = 2  # bad arguments or configuration
EXIT_STOPPED = 3  # stopped early: max turns, stall, context too large
EXIT_INTERRUPTED = 130

_STOP_CODES = {"end_turn": EXIT_OK, "error": EXIT_ERROR}


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    stream_json = "stream-json"


def read_prompt(prompt: str | None, stdin: TextIO) -> str:
    """Combine ``-p`` with piped stdin (``cat log | mnemo -p "why?"``)."""
    piped = "" if stdin.isatty() else stdin.read()
    if prompt in (None, "-", ""):
        return piped.strip()
    if piped.strip():
        return f"{prompt}\n\n<stdin>\n{piped.rstrip()}\n</stdin>"
    return prompt


class _Printer:
    def __init__(self, fmt: OutputFormat, out: TextIO, err: TextIO, verbose: bool) -> None:
        self.fmt, self.out, self.err, self.verbose = fmt, out, err, verbose

    def __call__(self, event: AgentEvent) -> None:
        if self.fmt is OutputFormat.stream_json:
            self.line(event_to_dict(event))
        elif isinstance(event, Notice) and event.topic.startswith("mcp"):
            if self.fmt is OutputFormat.text:  # a server that failed: always said
                print(f"mnemo: {event.message}", file=self.err, flush=True)
        elif isinstance(event, Escalated) and self.fmt is OutputFormat.text:
            line = ladder_line(event)  # another rung costs calls: always said
            print(f"mnemo: {line.plain if line else ''}", file=self.err, flush=True)
        elif self.verbose and self.fmt is OutputFormat.text:
            if isinstance(event, ToolCallStarted):
                args = json.dumps(event.call.arguments, ensure_ascii=False)[:200]
                print(f"● {event.call.name} {args}", file=self.err, flush=True)
            elif isinstance(event, ToolCallFinished):
                status = "error" if event.result.is_error else "ok"
                first = event.result.text.strip().splitlines()[:1]
                print(f"  ⎿ {status}: {first[0][:160] if first else ''}", file=self.err, flush=True)
            elif isinstance(event, StrategyChosen):
                line = ladder_line(event)
                print(f"mnemo: {line.plain if line else ''}", file=self.err, flush=True)

    def line(self, data: dict[str, Any]) -> None:
        self.out.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        self.out.flush()


async def _after_headless(app: App, err: TextIO, verbose: bool) -> None:
    """The memory work the run queued, as ``[memory] after_headless`` says."""
    how = app.settings.memory.after_headless
    if how == "queue" or app.memory is None or not app.memory.pending_jobs():
        return
    if how == "now":

        def progress(line: str) -> None:
            if verbose:
                print(f"mnemo: {line}", file=err, flush=True)

        try:
            await app.run_memory_jobs(progress)
        except MnemoError as exc:  # the jobs stay queued; the answer is already out
            print(f"mnemo: memory work left queued: {exc.one_line()}", file=err, flush=True)
        return
    start_memory_process(app.cwd, app.project.name if app.project else None, app.memory.home)


CANNOT_EDIT = (
    "this task needs to edit files, but in ask mode without --yes every edit and "
    "command is refused; rerun with --yes, or --mode auto (edits in the work "
    "directory, commands in the sandbox)"
)


def can_change(app: App) -> bool:
    """Whether this headless run may edit files: a mode that allows it, or --yes."""
    if app.safety.policy.mode != "ask":
        return True
    approver = app.guard.approver
    return not isinstance(approver, StaticApprover) or approver.allow


def _watch_denials(app: App, fmt: OutputFormat, err: TextIO) -> list[Denial]:
    """Collect the run's refusals; in text mode each is said on stderr at once."""
    denials: list[Denial] = []

    def seen(denial: Denial) -> None:
        denials.append(denial)
        if fmt is OutputFormat.text:
            print(denial.line(), file=err, flush=True)

    if app.guard.audit is not None:
        app.guard.audit = DenialTap(app.guard.audit, seen)
    return denials


def result_record(
    app: App, finished: TurnFinished | None, session_id: str, started: float, code: int
) -> dict[str, Any]:
    totals = app.agent.totals
    return {
        "type": "result",
        "subtype": finished.stop_reason if finished else "cancelled",
        "is_error": code != EXIT_OK,
        "exit_code": code,
        "result": finished.text if finished else "",
        "session_id": session_id,
        "model": app.model_alias,
        "num_iterations": finished.iterations if finished else 0,
        "duration_s": round(time.perf_counter() - started, 3),
        "usage": {
            "input_tokens": totals.usage.input_tokens,
            "output_tokens": totals.usage.output_tokens,
            "cache_read_tokens": totals.usage.cache_read_tokens,
            "cache_write_tokens": totals.usage.cache_write_tokens,
        },
        "cost_usd": totals.cost_usd,
        "strategy": finished.extra.get("strategy") if finished else None,
        "rungs": finished.extra.get("rungs", []) if finished else [],
    }


async def run_headless(
    app: App,
    prompt: Message,
    fmt: OutputFormat,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    verbose: bool = False,
    must_edit: bool = False,
) -> int:
    """One turn, printed as ``fmt`` says. ``must_edit``: the task is to change files
    (``mnemo fix``); a run that cannot is warned about before it starts."""
    out, err = out or sys.stdout, err or sys.stderr
    printer = _Printer(fmt, out, err, verbose)
    for notice in app.notices:
        print(f"mnemo: {notice}", file=err, flush=True)
    if app.agent.history and fmt is OutputFormat.text:  # --continue / --resume ID
        turns = app.agent.turns
        print(f"mnemo: resumed {app.session_id} ({turns} turn{'s' if turns != 1 else ''})",
              file=err, flush=True)  # fmt: skip
    if must_edit and not can_change(app):
        print(f"mnemo: warning: {CANNOT_EDIT}", file=err, flush=True)
    denials = _watch_denials(app, fmt, err)
    session_id = app.session_id
    started = time.perf_counter()
    if fmt is OutputFormat.stream_json:
        printer.line(
            {
                "type": "init",
                "version": __version__,
                "session_id": session_id,
                "model": app.model_alias,
                "model_id": app.model_config.model,
                "cwd": str(app.cwd),
                "mode": app.safety.policy.mode,
                "tools": [s.name for s in app.tool_specs()],
            }
        )
    task = asyncio.ensure_future(app.run_turn(prompt, printer))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, task.cancel)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    finished: TurnFinished | None = None
    try:
        finished = await task
        code = _STOP_CODES.get(finished.stop_reason, EXIT_STOPPED)
    except asyncio.CancelledError:
        code = EXIT_INTERRUPTED
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
        await app.close()
        if app.memory is not None:
            # Stored as it ran; its summary and extraction are queued (durably).
            app.memory.end_session(session_id)
    record = result_record(app, finished, session_id, started, code)
    record["denials"] = [d.as_dict() for d in denials]
    if fmt is OutputFormat.text:
        text = record["result"]
        stream = out if code == EXIT_OK else err
        if text:
            stream.write(text.rstrip() + "\n")
        stream.flush()
        if denials:
            many = f"{len(denials)} tool call{'s were' if len(denials) > 1 else ' was'}"
            print(f"mnemo: {many} refused in this run (above).", file=err, flush=True)
    else:
        printer.line(record)
    if code != EXIT_INTERRUPTED:  # after the answer is out
        await _after_headless(app, err, verbose)
    return code
