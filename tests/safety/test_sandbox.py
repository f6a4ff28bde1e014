"""LocalSandbox with real subprocesses: streaming, caps, timeouts, cancellation,
backgrounding and rlimits — and never an orphan left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import CommandSpec
from mnemocode.safety.sandbox import LocalSandbox, ResourceLimits


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            members.append(int(entry.name))
    return members


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def _until(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    for _ in range(int(limit_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never became true")


async def _wait_for(path: Path) -> str:
    await _until(lambda: path.exists() and bool(path.read_text().strip()))
    return path.read_text()


async def test_output_streams_while_running_and_stderr_is_merged(tmp_path: Path) -> None:
    chunks: list[tuple[float, str]] = []
    command = "echo first; echo oops >&2; sleep 0.4; echo second; exit 3"
    result = await LocalSandbox().run(
        CommandSpec(command, tmp_path), lambda text: chunks.append((time.monotonic(), text))
    )
    assert result.exit_code == 3
    assert result.output == "first\noops\nsecond\n"
    assert "".join(text for _, text in chunks) == result.output
    first_seen = next(at for at, text in chunks if "first" in text)
    second_seen = next(at for at, text in chunks if "second" in text)
    assert second_seen - first_seen > 0.3  # streamed as it came, not all at the end


async def test_utf8_split_across_reads_is_decoded_whole(tmp_path: Path) -> None:
    chunks: list[str] = []
    command = r"printf '\303'; sleep 0.1; printf '\251\n'"
    result = await LocalSandbox().run(CommandSpec(command, tmp_path), chunks.append)
    assert result.output == "é\n" and "".join(chunks) == "é\n"


async def test_env_overrides_cwd_and_stdin_from_dev_null(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    spec = CommandSpec("echo $GREETING; pwd; cat", tmp_path / "sub", env={"GREETING": "hi"})
    result = await LocalSandbox().run(spec)  # `cat` would hang if stdin were inherited
    assert result.output.splitlines() == ["hi", str(tmp_path / "sub")]
    assert "PATH" in os.environ  # inherited environment still works: `echo` ran via PATH


async def test_missing_cwd_is_a_tool_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="could not start command"):
        await LocalSandbox().run(CommandSpec("true", tmp_path / "missing"))


async def test_output_keeps_head_and_tail_within_the_cap(tmp_path: Path) -> None:
    chunks: list[str] = []
    spec = CommandSpec("seq 1 100000", tmp_path, max_output_bytes=2000)
    result = await LocalSandbox().run(spec, chunks.append)
    assert result.output_truncated
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("99999\n100000\n")
    assert "bytes of output omitted" in result.output
    assert len(result.output) < 2200
    assert "".join(chunks).count("\n") == 100000  # the stream itself is not cut


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    spec = CommandSpec(f"sleep 30 & echo $! > {pidfile}; sleep 30", tmp_path, timeout_s=0.5)
    started = time.monotonic()
    result = await LocalSandbox(kill_grace_s=1.0).run(spec)
    assert result.timed_out and result.exit_code == -signal.SIGTERM
    assert time.monotonic() - started < 3
    child = int(pidfile.read_text())
    assert result.pid is not None
    assert not _alive(child) and _group_members(result.pid) == []


async def test_sigterm_is_followed_by_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    command = "trap '' TERM; echo ready; while true; do sleep 0.05; done"
    spec = CommandSpec(command, tmp_path, timeout_s=0.3)
    started = time.monotonic()
    result = await LocalSandbox(kill_grace_s=0.3).run(spec)
    assert result.timed_out and result.exit_code == -signal.SIGKILL
    assert 0.55 < time.monotonic() - started < 3
    assert result.pid is not None and _group_members(result.pid) == []


async def test_cancelling_the_caller_kills_the_group_and_leaves_no_orphans(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pids"
    command = f"sleep 30 & sleep 30 & echo $$ $! > {pidfile}; sleep 30; "
    task = asyncio.create_task(LocalSandbox(kill_grace_s=1.0).run(CommandSpec(command, tmp_path)))
    leader, child = map(int, (await _wait_for(pidfile)).split())
    assert _alive(leader) and _alive(child)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(leader) and not _alive(child)
    assert _group_members(leader) == []


async def test_an_exception_from_on_output_kills_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def explode(_text: str) -> None:
        raise RuntimeError("renderer crashed")

    command = f"echo $$ > {pidfile}; echo hello; sleep 30"
    with pytest.raises(RuntimeError, match="renderer crashed"):
        await LocalSandbox(kill_grace_s=0.5).run(CommandSpec(command, tmp_path), explode)
    leader = int(pidfile.read_text())
    assert _group_members(leader) == []


async def test_background_after_keeps_running_and_logs_to_a_file(tmp_path: Path) -> None:
    sandbox = LocalSandbox()
    spec = CommandSpec(
        "echo started; sleep 0.6; echo finished",
        tmp_path,
        background_after_s=0.2,
        log_dir=tmp_path / "logs",
    )
    result = await sandbox.run(spec)
    assert result.backgrounded and result.exit_code is None
    assert result.output == "started\n"
    assert result.log_path is not None and result.log_path.parent == tmp_path / "logs"
    assert result.pid is not None and _alive(result.pid)
    assert [job.pid for job in sandbox.jobs()] == [result.pid]
    log = result.log_path
    await _until(lambda: "finished" in log.read_text())
    assert log.read_text() == "started\nfinished\n"
    await _until(lambda: sandbox.jobs() == [])  # finished jobs are reaped


async def test_background_jobs_can_be_killed(tmp_path: Path) -> None:
    sandbox = LocalSandbox(kill_grace_s=0.5)
    spec = CommandSpec("sleep 30 & sleep 30", tmp_path, background_after_s=0.1, log_dir=tmp_path)
    result = await sandbox.run(spec)
    assert result.backgrounded and result.pid is not None
    assert len(_group_members(result.pid)) >= 2
    await sandbox.aclose()
    assert _group_members(result.pid) == [] and sandbox.jobs() == []


async def test_a_quick_command_in_background_mode_leaves_no_log(tmp_path: Path) -> None:
    spec = CommandSpec("echo quick", tmp_path, background_after_s=5, log_dir=tmp_path / "logs")
    result = await LocalSandbox().run(spec)
    assert not result.backgrounded and result.exit_code == 0 and result.output == "quick\n"
    assert result.log_path is None and list((tmp_path / "logs").iterdir()) == []


async def test_a_grandchild_holding_the_pipe_does_not_block_completion(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    spec = CommandSpec(f"sleep 30 & echo $! > {pidfile}; echo done", tmp_path)
    started = time.monotonic()
    result = await LocalSandbox().run(spec)
    assert result.exit_code == 0 and result.output == "done\n"
    assert time.monotonic() - started < 2
    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # `cmd &` is the user's own business


async def test_file_size_limit(tmp_path: Path) -> None:
    sandbox = LocalSandbox(limits=ResourceLimits(file_size_bytes=4096))
    result = await sandbox.run(CommandSpec("head -c 100000 /dev/zero > big", tmp_path))
    assert result.exit_code != 0
    assert (tmp_path / "big").stat().st_size <= 4096


async def test_cpu_limit(tmp_path: Path) -> None:
    sandbox = LocalSandbox(limits=ResourceLimits(cpu_seconds=1))
    spec = CommandSpec(f"{sys.executable} -c 'while True: pass'", tmp_path, timeout_s=20)
    result = await sandbox.run(spec)
    assert not result.timed_out
    assert result.exit_code in {-signal.SIGXCPU, 128 + signal.SIGXCPU, -signal.SIGKILL}


async def test_memory_limit(tmp_path: Path) -> None:
    sandbox = LocalSandbox(limits=ResourceLimits(memory_bytes=512 * 1024**2))
    code = "b = bytearray(2 * 1024**3)"
    result = await sandbox.run(CommandSpec(f"{sys.executable} -c '{code}'", tmp_path))
    assert result.exit_code == 1 and "MemoryError" in result.output
    ok = await LocalSandbox().run(
        CommandSpec(f"{sys.executable} -c 'b = bytearray(10**8)'", tmp_path)
    )
    assert ok.exit_code == 0  # no memory limit by default


async def test_an_endless_fast_writer_cannot_starve_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    spec = CommandSpec("yes", tmp_path, timeout_s=0.5, max_output_bytes=1000)
    result = await LocalSandbox(kill_grace_s=0.5).run(spec)
    assert result.timed_out and result.output_truncated
    assert time.monotonic() - started < 1.5


async def test_log_mode_reads_all_output_of_a_fast_command(tmp_path: Path) -> None:
    command = "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo END"
    spec = CommandSpec(command, tmp_path, background_after_s=30, log_dir=tmp_path / "logs")
    result = await LocalSandbox().run(spec, lambda _text: None)
    assert result.exit_code == 0 and result.output.endswith("a\nEND\n")
    assert result.output_truncated and result.log_path is not None  # kept: it has it all
    assert result.log_path.stat().st_size == 3_000_000 + len("\nEND\n")
