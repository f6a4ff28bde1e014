"""The executor inside a warm sandbox: one long-lived process in a bwrap (its
mounts, PID namespace and network fixed when it started) that starts each command
it is sent, so a command costs a fork and an exec instead of a new bwrap.

It runs as a script (``python -I -S sandbox_exec.py FD``) and imports nothing
from mnemocode. It speaks JSON over the SOCK_SEQPACKET socket ``FD``; the command's
output pipe comes with the request (SCM_RIGHTS), and a pidfd of the started
command goes back with the reply, from which the parent learns the command's PID
in its own namespace (``warm.py``). It reaps every command it started and reports
the exit; then it kills what the command left behind — every process of the
namespace whose session is not one of a still-running command — so nothing
outlives its command, as when the command's own bwrap ended.

Messages in: ``{"op": "run", "id", "argv", "cwd", "env"}`` (+ the output fd), and
``{"op": "ack", "id"}`` once the parent has the PID (only then is it reaped).
Messages out: ``{"op": "ready"}``, ``{"op": "started", "id"}`` (+ a pidfd),
``{"op": "failed", "id", "error"}``, ``{"op": "exit", "id", "code"}``. The
executor exits when the socket closes (the parent is gone)."""

from __future__ import annotations

import array
import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from typing import Any

MAX_MESSAGE = 1 << 20


def send(sock: socket.socket, message: dict[str, Any], fd: int | None = None) -> None:
    data = [json.dumps(message).encode()]
    if fd is None:
        sock.sendmsg(data)
    else:
        sock.sendmsg(data, [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the fds that came with it; (None, []) at end of stream."""
    data, ancillary, _flags, _address = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(16))
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), list(fds)


class Executor:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)
        # pidfd → (request id, the command)
        self.running: dict[int, tuple[int, subprocess.Popen[bytes]]] = {}

    def serve(self) -> None:
        send(self.sock, {"op": "ready"})
        while True:
            for key, _events in self.selector.select():
                if key.fileobj is self.sock:
                    message, fds = receive(self.sock)
                    if message is None:
                        return
                    if message.get("op") == "ack":
                        self.watch(int(message["id"]))
                    else:
                        self.start(message, fds)
                else:
                    self.finish(int(key.fd))

    def start(self, message: dict[str, Any], fds: list[int]) -> None:
        request = int(message["id"])
        try:
            out = fds[0]
            command = subprocess.Popen(
                message["argv"],
                cwd=message["cwd"],
                env=message["env"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except (OSError, IndexError, KeyError, TypeError) as exc:
            send(self.sock, {"op": "failed", "id": request, "error": str(exc)})
            return
        finally:
            for fd in fds:
                os.close(fd)
        pidfd = os.pidfd_open(command.pid)
        self.running[pidfd] = (request, command)
        send(self.sock, {"op": "started", "id": request}, pidfd)

    def watch(self, request: int) -> None:
        """Reap the command from now on: the parent has read its PID (a reaped
        process's pidfd no longer names one)."""
        for pidfd, (started, _command) in self.running.items():
            if started == request:
                self.selector.register(pidfd, selectors.EVENT_READ)
                return

    def finish(self, pidfd: int) -> None:
        self.selector.unregister(pidfd)
        request, command = self.running.pop(pidfd)
        os.close(pidfd)
        code = command.wait()
        self.sweep()
        send(self.sock, {"op": "exit", "id": request, "code": code})

    def sweep(self) -> None:
        """SIGKILL every process of the namespace outside the sessions of the
        commands still running (each command leads its own session)."""
        keep = {command.pid for _request, command in self.running.values()}
        own = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (1, own):
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                    fields = stat.read().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            # "pid (comm) state ppid pgrp session ..."
            if len(fields) >= 4 and fields[0] not in ("Z", "X") and int(fields[3]) not in keep:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry), signal.SIGKILL)


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    Executor(sock).serve()


if __name__ == "__main__":
    main(sys.argv)
