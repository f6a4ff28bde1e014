"""Warm sandboxes: a long-lived bwrap per mount plan and network setting whose
executor (``sandbox_exec.py``) starts the commands, so a command costs a fork and
an exec (about 1 ms) instead of a new bwrap (about 4 ms here).

A warm sandbox is reused only for commands whose bwrap arguments are exactly
those it was started with, and only while every bind-mounted path is still the
same file (device, inode): a credential store that appears, a protected file
replaced by an editor, a new embedded repository all change the key, and the next
command gets a fresh sandbox. Commands see what they would see in their own bwrap:
the same mounts, a PID namespace, no network unless granted; nothing a command
leaves running outlives it (the executor kills it). Two things carry over between
the commands of one warm sandbox: its private ``/tmp``, and — inside that
namespace only — the PIDs of background jobs.

``WarmProcess`` stands in for ``subprocess.Popen`` in ``LocalSandbox``: its
``pid`` is the command's PID in our namespace (read from the pidfd the executor
sends back), so waiting on it, signalling its process group and checking whether
the group is alive work as for any other command; its exit status comes from the
executor, which reaps it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

from mnemocode.safety.sandbox_exec import receive, send

EXECUTOR = Path(__file__).with_name("sandbox_exec.py")
READY_TIMEOUT_S = 5.0
# Warm sandboxes kept at once: one per network setting, and a spare while a plan changes.
MAX_WARM = 3
_BIND_OPTIONS = frozenset({"--bind", "--ro-bind", "--dev-bind"})


class ExecutorGone(RuntimeError):
    """The warm sandbox died (killed, or it never came up)."""


def identity(prefix: Sequence[str]) -> tuple[object, ...]:
    """The key of a warm sandbox: its bwrap arguments and the identity of every
    path they mount. A mount point replaced on our side (an editor's rename over a
    protected file, a credential store recreated) is detached from the sandbox by
    the kernel; a changed identity makes the next command start a fresh one."""
    args = list(prefix)
    stamps: list[object] = list(args)
    for index, arg in enumerate(args):
        count = 2 if arg in _BIND_OPTIONS else 1 if arg == "--tmpfs" else 0
        for path in args[index + 1 : index + 1 + count]:
            try:
                st = os.stat(path)
            except OSError:
                stamps.append(None)
            else:
                stamps.append((st.st_dev, st.st_ino))
    return tuple(stamps)


class WarmProcess:
    """A command started by a warm sandbox, with ``Popen``'s waiting API."""

    def __init__(self, executor: WarmExecutor, request: int, pid: int) -> None:
        self._executor = executor
        self.request = request
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._executor.pump(block_s=0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            self._executor.pump(block_s=left)
        return self.returncode


class WarmExecutor:
    """One warm sandbox: the bwrap process and the socket to its executor."""

    def __init__(self, prefix: Sequence[str], env: dict[str, str]) -> None:
        self.key = identity(prefix)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._next = 0
        self._started: dict[int, tuple[int | None, str]] = {}
        self._processes: dict[int, WarmProcess] = {}
        self.gone = False
        argv = [*prefix, "--chdir", "/", "--", sys.executable, "-I", "-S"]
        # The source goes inline: the file may sit under /tmp, private inside.
        argv += ["-c", EXECUTOR.read_text(encoding="utf-8"), str(theirs.fileno())]
        try:
            self._bwrap = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._ready = False
        # A sandbox nobody closed (dropped, or at exit) is shut down when collected.
        self._finalizer = weakref.finalize(self, _shut_down, ours, self._bwrap)

    @property
    def live(self) -> int:
        """Commands started here that have not exited yet."""
        return sum(1 for p in self._processes.values() if p.returncode is None)

    async def ready(self) -> None:
        """Wait (off the event loop) until the executor says it is up."""
        if self._ready:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._await_ready)

    def _await_ready(self) -> None:
        self._sock.settimeout(READY_TIMEOUT_S)
        try:
            message, fds = receive(self._sock)
        except OSError as exc:
            self.close()
            raise ExecutorGone(f"the warm sandbox did not start: {exc}") from exc
        finally:
            self._sock.settimeout(None)
        for fd in fds:
            os.close(fd)
        if message is None or message.get("op") != "ready":
            self.close()
            raise ExecutorGone("the warm sandbox did not start")
        self._ready = True

    def spawn(
        self, argv: Sequence[str], cwd: Path, env: dict[str, str], out_fd: int
    ) -> WarmProcess:
        """Start a command with its output on ``out_fd`` (sent, then ours to close)."""
        if self.gone:
            raise ExecutorGone("the warm sandbox is gone")
        self._next += 1
        request = self._next
        message = {"op": "run", "id": request, "argv": list(argv), "cwd": str(cwd), "env": env}
        try:
            send(self._sock, message, out_fd)
        except OSError as exc:
            self._lost()
            raise ExecutorGone(f"the warm sandbox is gone: {exc}") from exc
        while request not in self._started:
            if self.gone:
                raise ExecutorGone("the warm sandbox died")
            self.pump(block_s=READY_TIMEOUT_S, expect=True)
        pid, error = self._started.pop(request)
        with contextlib.suppress(OSError):  # a dead executor shows at the next command
            send(self._sock, {"op": "ack", "id": request})
        if pid is None:
            raise OSError(error)
        process = WarmProcess(self, request, pid)
        self._processes[request] = process
        return process

    def pump(self, *, block_s: float | None, expect: bool = False) -> None:
        """Handle the executor's messages: all that are waiting, or (``block_s``)
        wait up to that long for the next one."""
        self._sock.settimeout(block_s if block_s is None else max(block_s, 0.0))
        try:
            while not self.gone:
                try:
                    message, fds = receive(self._sock)
                except (BlockingIOError, TimeoutError):
                    if expect:
                        self._lost()  # a request the executor never answered
                    return
                except OSError:
                    self._lost()
                    return
                if message is None:
                    self._lost()
                    return
                self._handle(message, fds)
                self._sock.settimeout(0.0)  # then take only what is already there
                expect = False
        finally:
            with contextlib.suppress(OSError):
                self._sock.settimeout(None)

    def _handle(self, message: dict[str, object], fds: list[int]) -> None:
        op, request = message.get("op"), message.get("id")
        if not isinstance(request, int):
            for fd in fds:
                os.close(fd)
            return
        if op == "started":
            pid = _pid_of(fds)
            self._started[request] = (pid, "" if pid else "no PID for the started command")
        elif op == "failed":
            self._started[request] = (None, str(message.get("error", "could not start")))
        elif op == "exit":
            process = self._processes.pop(request, None)
            code = message.get("code")
            if process is not None:
                process.returncode = code if isinstance(code, int) else -1
        for fd in fds:
            os.close(fd)

    def _lost(self) -> None:
        """The executor is gone: its commands died with its namespace."""
        self.gone = True
        for process in self._processes.values():
            if process.returncode is None:
                process.returncode = -9
        self._processes.clear()
        self.close()

    def close(self) -> None:
        """Close the socket: the executor exits, and with it its namespace."""
        self.gone = True
        self._finalizer()


def _shut_down(sock: socket.socket, bwrap: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        sock.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        bwrap.wait(timeout=0.5)
    if bwrap.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(bwrap.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            bwrap.wait(timeout=1.0)


def _pid_of(fds: list[int]) -> int | None:
    """Our namespace's PID of the process a pidfd refers to (``/proc`` says it)."""
    if not fds:
        return None
    try:
        info = Path(f"/proc/self/fdinfo/{fds[0]}").read_text()
    except OSError:
        return None
    for line in info.splitlines():
        if line.startswith("Pid:"):
            pid = int(line.split()[1])
            return pid if pid > 0 else None
    return None


class WarmPool:
    """The warm sandboxes of one ``BubblewrapSandbox``, by key."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[object, ...], WarmExecutor] = {}
        self.broken: str | None = None  # why warm sandboxes do not work here

    async def get(self, prefix: Sequence[str], env: dict[str, str]) -> WarmExecutor | None:
        """The warm sandbox for ``prefix`` (started if needed), or None when warm
        sandboxes cannot start here (the caller starts a bwrap per command)."""
        if self.broken is not None:
            return None
        key = identity(prefix)
        found = self._by_key.get(key)
        if found is not None and not found.gone:
            return found
        self._evict()
        executor = WarmExecutor(prefix, env)
        try:
            await executor.ready()
        except ExecutorGone as exc:
            self.broken = str(exc)
            return None
        self._by_key[key] = executor
        return executor

    def _evict(self) -> None:
        """Drop dead sandboxes, then idle ones beyond ``MAX_WARM - 1``."""
        for key, executor in list(self._by_key.items()):
            if executor.gone:
                del self._by_key[key]
        idle = [k for k, e in self._by_key.items() if e.live == 0]
        while len(self._by_key) >= MAX_WARM and idle:
            self._by_key.pop(idle.pop(0)).close()

    def close(self) -> None:
        for executor in self._by_key.values():
            executor.close()
        self._by_key.clear()
