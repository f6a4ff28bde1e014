"""The local sandbox: one shell command in its own process group, with rlimits.

Every command runs as ``bash -c`` (``/bin/sh`` when there is no bash) in a new
session, so the whole tree it spawns can be signalled at once. Output (stdout and
stderr merged) streams to ``on_output`` as it arrives and is kept head + tail
within ``max_output_bytes``. A timeout, a cancelled caller or any error kills the
whole process group: SIGTERM, then SIGKILL after a grace period. With
``background_after_s`` the output goes to a log file from the start, so a command
still running at that point is simply left running, detached, writing to it.

Exit and output are events on the asyncio loop where Linux gives a pidfd (a
command's result is ready the moment it exits), else polled (a few milliseconds at
first, backing off to 50 ms); output to a log file (background mode) is polled. A
grandchild that keeps the output pipe open does not hold up the result: after the
exit what is left is read for a moment, then no more.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import CommandResult, CommandSpec

_READ_CHUNK = 65536
_READ_BURST = 16
_POLL_MIN_S = 0.005
_POLL_MAX_S = 0.05
# After the command exits, how long to keep reading output that grandchildren
# still write to the pipe before we stop listening.
_DRAIN_AFTER_EXIT_S = 0.2


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """Soft rlimits for every command; None leaves the inherited limit alone. The
    command's shell sets them (``ulimit -S``) before it runs anything else.

    No memory limit by default: compilers, JVMs and Go reserve lots of address
    space. CPU time is unlimited too, because background servers run for hours;
    the wall-clock timeout is the guard for foreground commands.
    """

    cpu_seconds: int | None = None
    file_size_bytes: int | None = 2 * 1024**3
    memory_bytes: int | None = None
    core_dumps: bool = False


class Process(Protocol):
    """What the sandbox needs of a started command (``subprocess.Popen`` has it).
    ``pid`` leads the command's process group, in our PID namespace."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...


ProcessT = TypeVar("ProcessT", bound=Process)


@dataclass(slots=True)
class BackgroundJob:
    pid: int
    command: str
    log_path: Path
    process: Process

    @property
    def running(self) -> bool:
        return self.process.poll() is None


class LocalSandbox:
    """Runs commands on this machine. Implements ``core.protocols.Sandbox`` (POSIX only)."""

    def __init__(
        self,
        *,
        limits: ResourceLimits | None = None,
        kill_grace_s: float = 2.0,
        shell: str | None = None,
        env_filter: Callable[[dict[str, str]], dict[str, str]] | None = None,
    ) -> None:
        self.limits = limits or ResourceLimits()
        self.env_filter = env_filter
        self.kill_grace_s = kill_grace_s
        self.shell = shell or shutil.which("bash") or "/bin/sh"
        self._jobs: dict[int, BackgroundJob] = {}

    # ---- the protocol --------------------------------------------------------------

    async def run(
        self, spec: CommandSpec, on_output: Callable[[str], None] | None = None
    ) -> CommandResult:
        log_path = _new_log_path(spec) if spec.background_after_s is not None else None
        proc, read_fd = await self._start(spec, log_path)
        run = _Running(spec, proc, read_fd, _Output(spec.max_output_bytes, on_output), log_path)
        try:
            return await self._supervise(run)
        except BaseException:
            # Cancelled, or on_output raised: leave nothing running behind us.
            await self._kill_group(proc)
            discard(log_path)
            raise
        finally:
            os.close(read_fd)

    # ---- background jobs -----------------------------------------------------------

    def jobs(self) -> list[BackgroundJob]:
        """Background jobs started by this sandbox that are still running."""
        self._reap()
        return list(self._jobs.values())

    async def kill_job(self, pid: int) -> bool:
        """Kill a background job's process group; False when there is no such job."""
        job = self._jobs.pop(pid, None)
        if job is None:
            return False
        await self._kill_group(job.process)
        return True

    async def aclose(self) -> None:
        """Kill every background job still running."""
        for pid in list(self._jobs):
            await self.kill_job(pid)

    def _reap(self) -> None:
        for pid, job in list(self._jobs.items()):
            if not job.running:
                del self._jobs[pid]

    # ---- internals -----------------------------------------------------------------

    def argv(self, spec: CommandSpec) -> list[str]:
        """The process to start for ``spec`` (other backends wrap it). The limits are
        set by the shell itself, on the command's first line: a preexec_fn (Python
        between fork and exec) would cost the fast spawn path, several ms a command."""
        prefix = _ulimit_prefix(self.limits, self.shell)
        return [self.shell, "-c", f"{prefix}{spec.command}" if prefix else spec.command]

    def environment(self, spec: CommandSpec) -> dict[str, str]:
        """The command's environment: ours plus ``spec.env``, filtered."""
        env = {**os.environ, **(spec.env or {})}
        return env if self.env_filter is None else self.env_filter(env)

    async def _start(self, spec: CommandSpec, log_path: Path | None) -> tuple[Process, int]:
        """The started command and the fd its output is read from."""
        return self._spawn(spec, log_path)

    def _spawn(
        self, spec: CommandSpec, log_path: Path | None
    ) -> tuple[subprocess.Popen[bytes], int]:
        env = self.environment(spec)

        def start(out_fd: int) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                self.argv(spec),
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        return launch(spec, log_path, start)

    async def _supervise(self, run: _Running) -> CommandResult:
        spec, proc, out = run.spec, run.proc, run.out
        # Backgrounding only makes sense when it comes before the timeout.
        background_at = spec.background_after_s
        if background_at is not None and background_at >= spec.timeout_s:
            background_at = None
        if run.log_path is None and hasattr(os, "pidfd_open"):
            outcome = await self._wait_for_events(run, background_at)
        else:
            outcome = await self._poll(run, background_at)
        if outcome == "background":
            return self._to_background(run)
        if outcome == "timeout":
            await self._kill_group(proc)
            await self._drain(run)
            discard(run.log_path)
            text, truncated = out.result()
            return CommandResult(
                proc.returncode, text, timed_out=True, output_truncated=truncated, pid=proc.pid
            )
        await self._drain(run)
        text, truncated = out.result()
        log_path = run.log_path
        # Keep the log only when it holds output we had to cut.
        if log_path is not None and not truncated:
            discard(log_path)
            log_path = None
        return CommandResult(
            proc.returncode, text, output_truncated=truncated, log_path=log_path, pid=proc.pid
        )

    async def _wait_for_events(self, run: _Running, background_at: float | None) -> str:
        """Wait for the exit (a pidfd) and read output as it arrives (the pipe), both
        on the event loop: no polling delay between a command's end and its result."""
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()
        try:
            pidfd = os.pidfd_open(run.proc.pid)
        except OSError:  # an old kernel, or a seccomp filter: fall back to polling
            return await self._poll(run, background_at)

        def on_exit() -> None:
            if not exited.done():
                exited.set_result(None)

        def on_data() -> None:
            data, eof = _read_available(run.read_fd)
            try:
                run.out.feed(data)
            except BaseException as exc:  # on_output raised: the caller must see it
                loop.remove_reader(run.read_fd)
                if not exited.done():
                    exited.set_exception(exc)
                return
            if eof:  # every writer is gone; the exit will follow
                loop.remove_reader(run.read_fd)

        loop.add_reader(pidfd, on_exit)
        loop.add_reader(run.read_fd, on_data)
        limit = spec_limit = run.spec.timeout_s
        if background_at is not None:
            limit = min(limit, background_at)
        try:
            async with asyncio.timeout_at(run.started_loop + limit):
                await exited
        except TimeoutError:
            return "background" if limit < spec_limit else "timeout"
        finally:
            loop.remove_reader(pidfd)
            loop.remove_reader(run.read_fd)
            os.close(pidfd)
        run.proc.wait()  # it has exited: this only reaps it
        return "exit"

    async def _poll(self, run: _Running, background_at: float | None) -> str:
        """Poll exit and output (a log file cannot be waited on): a few
        milliseconds at first, backing off to 50 ms."""
        spec, proc, out = run.spec, run.proc, run.out
        delay = _POLL_MIN_S
        while proc.poll() is None:
            got_data = out.feed(_read_available(run.read_fd)[0])
            elapsed = time.monotonic() - run.started
            if background_at is not None and elapsed >= background_at:
                return "background"
            if elapsed >= spec.timeout_s:
                return "timeout"
            delay = _POLL_MIN_S if got_data else min(delay * 2, _POLL_MAX_S)
            await asyncio.sleep(delay)
        return "exit"

    def _to_background(self, run: _Running) -> CommandResult:
        assert run.log_path is not None  # background mode always writes to a log
        run.out.feed(_read_available(run.read_fd)[0])
        self._reap()
        pid = run.proc.pid
        self._jobs[pid] = BackgroundJob(pid, run.spec.command, run.log_path, run.proc)
        text, truncated = run.out.result()
        return CommandResult(
            None,
            text,
            backgrounded=True,
            log_path=run.log_path,
            pid=pid,
            output_truncated=truncated,
        )

    async def _drain(self, run: _Running) -> None:
        """Read what is left after the command exited. A pipe may still be held open
        by grandchildren: give them a moment, then stop listening (they get SIGPIPE
        if they write again). A log file is read up to its current end."""
        now = time.monotonic()
        quiet_deadline, hard_deadline = now + _DRAIN_AFTER_EXIT_S, now + 10 * _DRAIN_AFTER_EXIT_S
        while True:
            data, eof = _read_available(run.read_fd)
            run.out.feed(data)
            now = time.monotonic()
            if eof or now >= hard_deadline or (not data and now >= quiet_deadline):
                break
            await asyncio.sleep(0 if data else _POLL_MIN_S)
        run.out.flush()

    async def _kill_group(self, proc: Process) -> None:
        """SIGTERM the process group, SIGKILL it after the grace period, reap the leader.

        Safe to call while being cancelled: SIGKILL is sent in ``finally``."""
        pgid = proc.pid  # start_new_session: the leader's pid is the group id
        try:
            _signal_group(pgid, signal.SIGTERM)
            deadline = time.monotonic() + self.kill_grace_s
            while time.monotonic() < deadline:
                if proc.poll() is not None and not _group_alive(pgid):
                    break
                await asyncio.sleep(0.02)
        finally:
            if proc.poll() is None or _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
            # The leader dies at once after SIGKILL; this reaps it.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)


@dataclass(slots=True)
class _Running:
    spec: CommandSpec
    proc: Process
    read_fd: int
    out: _Output
    log_path: Path | None
    started: float = field(default_factory=time.monotonic)
    # The same moment on the event loop's clock (for asyncio.timeout_at).
    started_loop: float = field(default_factory=lambda: asyncio.get_running_loop().time())


class _Output:
    """Collects output within a byte cap, keeping the first and the last half."""

    def __init__(self, cap: int, on_output: Callable[[str], None] | None) -> None:
        self._head_cap = max(cap, 2) // 2
        self._tail_cap = max(cap, 2) - self._head_cap
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self._on_output = on_output
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> bool:
        if not data:
            return False
        self.total += len(data)
        if self._on_output is not None:
            text = self._decoder.decode(data)
            if text:
                self._on_output(text)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            if len(self._tail) > 2 * self._tail_cap:
                del self._tail[: -self._tail_cap]
        return True

    def flush(self) -> None:
        text = self._decoder.decode(b"", final=True)
        if text and self._on_output is not None:
            self._on_output(text)

    def result(self) -> tuple[str, bool]:
        kept = len(self._head) + min(len(self._tail), self._tail_cap)
        if self.total <= kept:
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", "replace"), False
        tail = bytes(self._tail[-self._tail_cap :])
        omitted = self.total - len(self._head) - len(tail)
        head_text = bytes(self._head).decode("utf-8", "replace")
        tail_text = tail.decode("utf-8", "replace").lstrip("\ufffd")
        note = f"\n[... {omitted} bytes of output omitted ...]\n"
        return head_text + note + tail_text, True


def launch(
    spec: CommandSpec, log_path: Path | None, start: Callable[[int], ProcessT]
) -> tuple[ProcessT, int]:
    """``start(write end)`` with the command's output fds made, and the read end.
    On failure nothing is left open; an OSError becomes the tool's error."""
    read_fd, write_fd = output_fds(log_path)
    try:
        return start(write_fd), read_fd
    except BaseException as exc:
        os.close(read_fd)
        discard(log_path)
        if isinstance(exc, OSError):
            raise ToolError(
                f"could not start command in {spec.cwd}: {exc.strerror or exc}"
            ) from exc
        raise
    finally:
        os.close(write_fd)


def output_fds(log_path: Path | None) -> tuple[int, int]:
    """(read end, write end) for a command's output: a pipe, or the log file."""
    if log_path is not None:
        write_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        return os.open(log_path, os.O_RDONLY), write_fd
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    return read_fd, write_fd


def _read_available(fd: int) -> tuple[bytes, bool]:
    """What is readable right now (at most a burst, so a fast writer cannot starve
    the event loop) from a non-blocking pipe or a growing file. ``eof``: the pipe has
    no writers left, or the file has nothing more for now."""
    chunks: list[bytes] = []
    for _ in range(_READ_BURST):
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            break
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
    return b"".join(chunks), False


def _ulimit_prefix(limits: ResourceLimits, shell: str) -> str:
    """``ulimit -S …;`` setting ``limits`` (soft limits: a command may raise them)."""
    block = 1024 if Path(shell).name in {"bash", "zsh", "ksh"} else 512
    flags = []
    if limits.cpu_seconds is not None:
        flags.append(f"-t {limits.cpu_seconds}")
    if limits.file_size_bytes is not None:
        flags.append(f"-f {max(1, limits.file_size_bytes // block)}")
    if limits.memory_bytes is not None:
        flags.append(f"-v {max(1, limits.memory_bytes // 1024)}")
    if not limits.core_dumps:
        flags.append("-c 0")
    # One ulimit per flag: dash takes a single resource per call.
    return "".join(f"ulimit -S {flag} 2>/dev/null; " for flag in flags)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) >= 3 and fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            return True
    return False


def _new_log_path(spec: CommandSpec) -> Path:
    log_dir = spec.log_dir or Path(tempfile.gettempdir()) / "mnemo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return log_dir / f"cmd-{stamp}-{uuid.uuid4().hex[:8]}.log"


def discard(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
