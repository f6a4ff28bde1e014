"""Memory never blocks the user, end to end: the real `mnemo` REPL in a pseudo-terminal,
the real detached `mnemo memory process`, the fake OpenAI server with a slow memory
turn. No timing is measured: the prompt answers and the REPL exits while the server
still holds the memory request unanswered; its request log shows the work ran later."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text
from mnemocode.llm.testing.server import RecordedRequest
from tests.cli.test_first_run_pty import Terminal
from tests.conftest import run_mnemo, write_global_config

SLOW_S = 15.0  # the memory model's answer arrives long after the user is served
SUMMARY = json.dumps({"title": "Three greetings", "topics": ["greetings"]})
NO_OPS = json.dumps({"ops": []})


def _config(url: str) -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n'
    )


def _repl(work: Path, home: Path) -> Terminal:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env.update(MNEMO_HOME=str(home), TERM="xterm", COLUMNS="120", LINES="40", NO_COLOR="1")
    return Terminal([sys.executable, "-m", "mnemocode"], work, env)


def _wait_for_log(home: Path, needle: str) -> str:
    log = home / "logs" / "memory-process.log"
    deadline = time.monotonic() + 120
    while needle not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.1)
    return log.read_text()


def _wait_for_requests(server: FakeOpenAIServer, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(server.chat_requests) < n:
        assert time.monotonic() < deadline, f"{len(server.chat_requests)} of {n} requests"
        time.sleep(0.05)


def _is_memory(request: RecordedRequest) -> bool:
    return "JSON Schema" in str(request.messages[0]["content"]) and not request.body.get("tools")


def test_exit_hands_the_summary_to_a_detached_process(tmp_path: Path, isolated_home: Path) -> None:
    answers = ["First reply.", "Second reply.", "Third reply."]
    script = [*map(text, answers), text(SUMMARY, delay=SLOW_S), text(NO_OPS)]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, _config(server.base_url))
        term = _repl(tmp_path, isolated_home)
        try:
            for n, answer in enumerate(answers, 1):
                term.send(f"turn {n}\r")
                term.expect(answer)
            term.send("/quit\r")
            term.expect("memory: 2 jobs handed to a background process")
            assert term.close() == 0
        finally:
            if term.proc.poll() is None:
                term.proc.kill()
        # The REPL is gone; the summary request is not answered yet (or not sent).
        log = isolated_home / "logs" / "memory-process.log"
        assert "memory jobs done" not in (log.read_text() if log.exists() else "")
        done = _wait_for_log(isolated_home, "memory jobs done")
        requests = server.chat_requests
    assert "2 of 2 memory jobs done" in done
    assert [_is_memory(r) for r in requests] == [False, False, False, True, True]
    sessions = run_mnemo(["memory", "sessions"], cwd=tmp_path, home=isolated_home)
    assert "Three greetings" in sessions.stdout


def test_start_leaves_earlier_work_to_the_background(tmp_path: Path, isolated_home: Path) -> None:
    headless = [text(f"answer {n}") for n in range(5)]
    slow = text(NO_OPS, delay=SLOW_S)
    later = [text(NO_OPS)] * 4 + [text(NO_OPS)]  # the four other runs, then this session's
    with FakeOpenAIServer([*headless, slow, text("Hello there."), *later]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        for n in range(5):
            run = run_mnemo(["-p", f"question {n}"], cwd=tmp_path, home=isolated_home)
            assert run.returncode == 0, run.stderr
        term = _repl(tmp_path, isolated_home)
        try:
            term.expect("memory: 5 jobs running in the background")
            _wait_for_requests(server, 6)  # the first extraction: the slow one
            term.send("hi\r")
            term.expect("Hello there.")  # while the memory request is unanswered
            assert term.screen.count("memory:") == 1
            term.expect("memory: 5 jobs done", timeout=90)
            term.send("/quit\r")
            term.expect("memory: 1 job handed to a background process")
            assert term.close() == 0
        finally:
            if term.proc.poll() is None:
                term.proc.kill()
        _wait_for_log(isolated_home, "1 of 1 memory jobs done")
        requests = server.chat_requests
    assert [_is_memory(r) for r in requests[5:]] == [True, False, True, True, True, True, True]
