"""A local model with a 4k window: the window read from the server at start, the
answer's reserve, the compact tool set, memory caps, /tools — real subprocesses
and the REPL against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.config.settings import ModelConfig
from mnemocode.llm.testing import FakeOpenAIServer, text
from tests.cli.repl_harness import repl_session, settings
from tests.conftest import run_mnemo, write_global_config


def _config(url: str, extra: str = "") -> str:
    return (
        'active_model = "local"\n[models.local]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n{extra}'
    )


def test_start_reads_the_window_from_the_server(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("one"), text("two")], context_window=4_096) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(["-p", "hi"], cwd=tmp_path, home=isolated_home)
        body = server.chat_requests[0].body
    assert proc.returncode == 0, proc.stderr
    assert "context window: 4096 tokens (llama.cpp /props n_ctx)" in proc.stderr
    assert body["max_tokens"] == 1_024  # a quarter of the window, not 8192
    names = [t["function"]["name"] for t in body["tools"]]
    assert "web_search" not in names and "memory_search" not in names
    assert "skill" not in names and "task" not in names  # nor the skills' listing:
    system = "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")
    assert "review-code" not in system
    assert "file_edit" in names


def test_a_configured_window_is_not_asked(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("one")], context_window=4_096, window_style="vllm") as server:
        write_global_config(isolated_home, _config(server.base_url, "context_window = 200000\n"))
        proc = run_mnemo(["-p", "hi", "--output-format", "json"], cwd=tmp_path, home=isolated_home)
        body = server.chat_requests[0].body
        asked = server.metadata_requests
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == "one"
    assert asked == [] and body["max_tokens"] == 8_192
    names = [t["function"]["name"] for t in body["tools"]]
    assert "memory_search" in names and "skill" in names and "task" in names
    system = "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")
    assert "review-code" in system  # a built-in skill, listed for a roomy window


def test_three_turns_fit_a_4k_window(tmp_path: Path, isolated_home: Path) -> None:
    script = [text(f"answer {n}") for n in range(3)]
    with FakeOpenAIServer(script, context_window=4_096, window_style="ollama") as server:
        write_global_config(isolated_home, _config(server.base_url))
        for n in range(3):
            proc = run_mnemo(["-p", f"question {n}"], cwd=tmp_path, home=isolated_home)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout == f"answer {n}\n"


async def test_tools_lists_what_was_left_out(tmp_path: Path) -> None:
    small = settings(test=ModelConfig(model="scripted", context_window=4_096))
    async with repl_session(tmp_path, [], config=small) as s:
        s.send("/tools\n")
        await s.wait_for("left out for this model's small window")
        assert "web_search, memory_search" in s.output


def _init(url: str, *extra: str) -> list[str]:
    return ["init", "--non-interactive", "--provider", "local", "--base-url", url,
            "--model", "fake-model", *extra]  # fmt: skip


def test_init_writes_the_servers_window(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("ok")], context_window=4_096) as server:
        proc = run_mnemo(_init(server.base_url), cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Context window: 4096 tokens (llama.cpp /props n_ctx)." in proc.stdout
    assert "context_window = 4096" in (isolated_home / "config.toml").read_text()


def test_init_keeps_a_given_window_and_says_the_server_differs(
    tmp_path: Path, isolated_home: Path
) -> None:
    with FakeOpenAIServer([text("ok")], context_window=4_096, window_style="vllm") as server:
        args = _init(server.base_url, "--context-window", "8192")
        proc = run_mnemo(args, cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the server says its context window is 4096 tokens" in proc.stdout
    assert "context_window = 8192" in (isolated_home / "config.toml").read_text()


def test_doctor_warns_when_config_and_server_disagree(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("ok")], context_window=4_096, window_style="ollama") as server:
        write_global_config(isolated_home, _config(server.base_url, "context_window = 32768\n"))
        proc = run_mnemo(["doctor"], cwd=tmp_path, home=isolated_home)
    lines = proc.stdout.splitlines()
    window = [line for line in lines if line.startswith("! window")]
    assert window, proc.stdout
    assert "config says 32768 tokens, the server 4096 (Ollama /api/show num_ctx)" in window[0]
    assert any(line.startswith("✓ endpoint") for line in lines)
    assert any(line.startswith(("✓ sandbox", "! sandbox")) for line in lines)  # still there
