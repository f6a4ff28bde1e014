"""shell_exec details: cancellation through the tool, exit wording, output caps."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.shell import shell_exec


def _ctx(tmp_path: Path, **settings: Any) -> ToolContext:
    return ToolContext(cwd=tmp_path, sandbox=LocalSandbox(kill_grace_s=0.5), settings=settings)


async def _run(ctx: ToolContext, **args: Any) -> ToolResult:
    return await shell_exec.run(ToolCall("c", "shell_exec", args), ctx)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


async def test_cancelling_the_tool_call_kills_everything(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    task = asyncio.create_task(
        _run(_ctx(tmp_path), command=f"sleep 30 & sleep 30 & echo $$ $! > {pids}; wait")
    )
    for _ in range(250):
        if pids.exists() and pids.read_text().strip():
            break
        await asyncio.sleep(0.02)
    leader, child = map(int, pids.read_text().split())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(leader) and not _alive(child)


async def test_non_zero_exit_is_not_a_tool_error(tmp_path: Path) -> None:
    result = await _run(_ctx(tmp_path), command="echo nope >&2; exit 2")
    assert not result.is_error and result.text == "Exit code: 2\nnope"
    killed = await _run(_ctx(tmp_path), command="kill -9 $$")
    assert killed.text.startswith("Exit code: -9 (killed by SIGKILL)")
    quiet = await _run(_ctx(tmp_path), command="true", cwd=".")
    assert quiet.text == "Exit code: 0\n(no output)"


async def test_long_output_is_cut_in_the_middle(tmp_path: Path) -> None:
    result = await _run(_ctx(tmp_path, shell_max_output_bytes=500), command="seq 1 10000")
    first_line, rest = result.text.split("\n", 1)
    assert first_line == "Exit code: 0 (output cut in the middle)"
    assert rest.startswith("1\n2\n") and rest.endswith("9999\n10000")
    assert "bytes of output omitted" in rest


async def test_settings_give_the_default_timeout(tmp_path: Path) -> None:
    result = await _run(_ctx(tmp_path, shell_timeout_s=0.3), command="sleep 5")
    assert result.text.startswith("Timed out after 0.3s")
    bad = await _run(_ctx(tmp_path), command="true", timeout_s=0)
    assert bad.is_error and "positive" in bad.text
