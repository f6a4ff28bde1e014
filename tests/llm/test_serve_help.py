"""``python -m mnemocode.llm.testing serve --help`` documents the script format: every
key a turn, a tool call, an error and a usage can have, and an example that the real
server (in its own process) replays."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from mnemocode.core.types import Usage
from mnemocode.llm.testing.script import ScriptedCall, ScriptedError, Turn, load_script


def _help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mnemocode.llm.testing", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def _example(text: str) -> str:
    """The JSON after the line "example ...:" up to the next blank line."""
    found = re.search(r"^example[^\n]*:\n((?:  .*\n)+)", text, re.MULTILINE)
    assert found, text
    return found[1]


def test_help_names_every_key_of_the_script_format() -> None:
    text = _help()
    assert "script format" in text
    keys = {f.name for f in dataclasses.fields(Turn)}
    keys |= {f.name for f in dataclasses.fields(ScriptedCall)}
    keys |= {f.name for f in dataclasses.fields(ScriptedError)}
    keys |= {f.name for f in dataclasses.fields(Usage)}
    missing = sorted(k for k in keys if not re.search(rf"\b{k}\b", text))
    assert not missing, f"not documented in serve --help: {missing}"
    assert "script_exhausted" in text  # what a request past the last turn gets


def test_the_example_in_help_is_replayed_by_the_server(tmp_path: Path) -> None:
    script = tmp_path / "turns.json"
    script.write_text(_example(_help()), encoding="utf-8")
    turns = load_script(str(script))
    assert turns[0].tool_calls and turns[-1].text
    command = [sys.executable, "-m", "mnemocode.llm.testing", "serve", "--script", str(script)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            base = server.stdout.readline().strip()
            body = {"model": "fake-model", "messages": [{"role": "user", "content": "go"}]}
            url = f"{base}/chat/completions"
            replies = [httpx.post(url, json=body, timeout=30).json() for _ in turns]
            past_the_end = httpx.post(url, json=body, timeout=30)
        finally:
            server.terminate()
    call = replies[0]["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == turns[0].tool_calls[0].name
    assert json.loads(call["arguments"]) == turns[0].tool_calls[0].arguments
    assert replies[-1]["choices"][0]["message"]["content"] == turns[-1].text
    assert past_the_end.status_code == 400
    assert past_the_end.json()["error"]["type"] == "script_exhausted"
