"""`mnemo -p` against a server that ends its stream early without a finish
reason: an error, never a finished answer (real subprocess, real openai SDK)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnemocode.llm.testing import FakeAnthropicServer, FakeOpenAIServer, cut, text
from mnemocode.llm.testing.server import FakeServer
from tests.conftest import run_mnemo, write_global_config


def _config(server: FakeServer) -> str:
    if isinstance(server, FakeAnthropicServer):
        where = f'provider = "anthropic"\nmodel = "claude-fake"\nbase_url = "{server.base_url}"\n'
        where += 'api_key_env = "FAKE_ANTHROPIC_KEY"\n'
    else:
        assert isinstance(server, FakeOpenAIServer)
        where = f'provider = "openai"\nmodel = "fake-model"\nbase_url = "{server.base_url}"\n'
    return f'active_model = "m"\n[models.m]\n{where}max_retries = 1\n'


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_cut_off_stream_is_an_error_not_an_answer(
    kind: str, tmp_path: Path, isolated_home: Path
) -> None:
    script = [cut("The answer is forty", after=2), text("unused")]
    server: FakeServer = (
        FakeOpenAIServer(script) if kind == "openai" else FakeAnthropicServer(script)
    )
    with server:
        write_global_config(isolated_home, _config(server))
        proc = run_mnemo(
            ["-p", "what is the answer?", "--output-format", "json"],
            cwd=tmp_path,
            home=isolated_home,
            env={"FAKE_ANTHROPIC_KEY": "sk-fake"},
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["is_error"] is True
    assert "cut off" in result["result"]
    assert result["subtype"] == "error"


def test_cut_off_is_retried_when_nothing_was_shown(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([cut("unseen", after=0), text("the full answer")]) as server:
        write_global_config(isolated_home, _config(server))
        proc = run_mnemo(["-p", "hi"], cwd=tmp_path, home=isolated_home)
        count = len(server.chat_requests)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "the full answer\n" and count == 2
