"""First run in a real pseudo-terminal: no configuration → the init wizard →
the REPL, which answers through the fake server."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text


class Terminal:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
        )
        os.close(slave)
        self.screen = ""

    def expect(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.screen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared; screen:\n{self.screen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            os.close(self.master)


def test_first_run_starts_init_then_the_repl(tmp_path: Path, isolated_home: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env.update(MNEMO_HOME=str(isolated_home), TERM="xterm", COLUMNS="100", LINES="30")
    with FakeOpenAIServer([text("ok"), text("Hello from the fake model.")]) as server:
        url = server.base_url
        term = Terminal([sys.executable, "-m", "mnemocode"], work, env)
        try:
            term.expect("No model is configured yet")
            term.expect("Provider")
            term.send("6\r")  # local OpenAI-compatible server
            term.expect("Model")
            term.send("tiny\r")
            term.expect("Base URL")
            term.send("\x15" + server.base_url + "\r")  # Ctrl-U clears the default first
            term.expect("API key environment variable")
            term.send("\r")
            term.expect("Name for this model")
            term.send("\r")
            term.expect("✓ test call")
            term.expect("Saved model 'local'")
            term.expect("Starting mnemo…")
            assert "Run `mnemo` to start" not in term.screen  # it does start
            term.send("say hello\r")
            term.expect("Hello from the fake model.")
            term.send("/quit\r")
            code = term.close()
        finally:
            if term.proc.poll() is None:
                term.proc.kill()
    assert code == 0
    config = (isolated_home / "config.toml").read_text()
    assert 'model = "tiny"' in config and url in config
