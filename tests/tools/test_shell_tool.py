"""shell_exec through the real local sandbox."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from mnemocode.core.events import AgentEvent, ToolOutputDelta
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.shell import shell_exec


def _ctx(tmp_path: Path, events: list[AgentEvent], **settings: object) -> ToolContext:
    return ToolContext(
        cwd=tmp_path,
        sandbox=LocalSandbox(),
        emit=events.append,
        log_dir=tmp_path / "logs",
        settings=dict(settings),
        current_call_id="call_9",
    )


async def test_output_streams_and_exit_code_is_reported(tmp_path: Path) -> None:
    events: list[AgentEvent] = []
    command = f"{sys.executable} -c \"print('one', flush=True); import sys; sys.exit(3)\""
    result = await shell_exec.run(
        ToolCall("c", "shell_exec", {"command": command}), _ctx(tmp_path, events)
    )
    assert not result.is_error
    assert result.text.startswith("Exit code: 3") and "one" in result.text
    deltas = [e for e in events if isinstance(e, ToolOutputDelta)]
    assert deltas and deltas[0].call_id == "call_9" and "one" in "".join(d.text for d in deltas)


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    events: list[AgentEvent] = []
    pidfile = tmp_path / "child.pid"
    command = f"sleep 30 & echo $! > {pidfile}; sleep 30"
    call = ToolCall("c", "shell_exec", {"command": command, "timeout_s": 0.5})
    result = await shell_exec.run(call, _ctx(tmp_path, events))
    assert "Timed out after 0.5s" in result.text
    child = int(pidfile.read_text())
    await asyncio.sleep(0.2)
    assert not _alive(child), "the background child must die with its group"


async def test_long_command_moves_to_the_background(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, [])
    command = "echo started; sleep 1; echo finished"
    call = ToolCall("c", "shell_exec", {"command": command, "background_after_s": 0.3})
    result = await shell_exec.run(call, ctx)
    assert "Still running in the background" in result.text
    log = Path(result.text.split("output continues in ")[1].split(". Read")[0])
    for _ in range(50):
        if "finished" in log.read_text():
            break
        await asyncio.sleep(0.1)
    assert log.read_text().splitlines() == ["started", "finished"]
    assert isinstance(ctx.sandbox, LocalSandbox)
    await ctx.sandbox.aclose()


async def test_cwd_must_exist(tmp_path: Path) -> None:
    call = ToolCall("c", "shell_exec", {"command": "pwd", "cwd": "nope"})
    result = await shell_exec.run(call, _ctx(tmp_path, []))
    assert result.is_error and "nope is not a directory" in result.text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False
