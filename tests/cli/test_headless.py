"""`mnemo -p`, presets, init and doctor as real subprocesses against the fake
OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, error, text, tool_call
from tests.conftest import run_mnemo, write_global_config


def _config(url: str, extra: str = "") -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 2\n{extra}'
    )


def test_text_output_and_stdin_are_combined(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("It fails because the port is taken.")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(
            ["-p", "why?"], cwd=tmp_path, home=isolated_home, stdin="Error: EADDRINUSE 8080\n"
        )
        sent = server.chat_requests[0].messages
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "It fails because the port is taken.\n"
    user = sent[-1]["content"]
    assert "why?" in str(user) and "<stdin>\nError: EADDRINUSE 8080\n</stdin>" in str(user)


def test_json_output_reports_usage_and_cost_fields(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("done")]) as server:
        write_global_config(
            isolated_home, _config(server.base_url, "input_price = 1.0\noutput_price = 2.0\n")
        )
        proc = run_mnemo(["-p", "hi", "--output-format", "json"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["type"] == "result" and record["result"] == "done"
    usage = record["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    expected = (usage["input_tokens"] * 1.0 + usage["output_tokens"] * 2.0) / 1_000_000
    assert abs(record["cost_usd"] - expected) < 1e-12


def test_headless_refuses_writes_without_yes_and_tells_the_model(
    tmp_path: Path, isolated_home: Path
) -> None:
    script = [tool_call("file_write", path="new.txt", content="x"), text("I was not allowed.")]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(
            ["-p", "write it", "--strategy", "direct"], cwd=tmp_path, home=isolated_home
        )
        second = server.chat_requests[1].messages
    assert proc.returncode == 0
    assert not (tmp_path / "new.txt").exists()
    tool_msg = next(m for m in second if m["role"] == "tool")
    assert "rerun with --yes" in str(tool_msg["content"])


def test_rate_limit_is_retried_then_succeeds(tmp_path: Path, isolated_home: Path) -> None:
    script = [error(429, "slow down", retry_after=0.05), error(500, "boom"), text("ok")]
    with FakeOpenAIServer(script) as server:
        write_global_config(
            isolated_home, _config(server.base_url).replace("max_retries = 2", "max_retries = 3")
        )
        proc = run_mnemo(
            ["-p", "hi", "--output-format", "stream-json"], cwd=tmp_path, home=isolated_home
        )
        count = len(server.chat_requests)
    assert proc.returncode == 0, proc.stderr
    assert count == 3
    notices = [json.loads(x) for x in proc.stdout.splitlines() if '"notice"' in x]
    assert any("retry 1" in n["message"] for n in notices)


def test_auth_error_is_one_clear_line_and_not_retried(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([error(401, "Incorrect API key provided")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(["-p", "hi"], cwd=tmp_path, home=isolated_home)
        count = len(server.chat_requests)
    assert proc.returncode == 1
    assert count == 1
    assert "model 'fake'" in proc.stderr and "Incorrect API key provided" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_api_key_variable_is_named(tmp_path: Path, isolated_home: Path) -> None:
    write_global_config(
        isolated_home, _config("http://127.0.0.1:9/v1", 'api_key_env = "MY_TEST_KEY"\n')
    )
    proc = run_mnemo(["-p", "hi"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 1
    assert "MY_TEST_KEY is not set" in proc.stderr


def test_malformed_config_names_file_and_line(tmp_path: Path, isolated_home: Path) -> None:
    (tmp_path / "mnemo.toml").write_text('[agent]\nmax_iterations = "many"\n')
    write_global_config(isolated_home, _config("http://127.0.0.1:9/v1"))
    proc = run_mnemo(["-p", "hi", "--trust"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 2
    assert f"{tmp_path / 'mnemo.toml'}:2: agent.max_iterations" in proc.stderr


def test_max_turns_stops_with_exit_code_3(tmp_path: Path, isolated_home: Path) -> None:
    script = [tool_call("glob", pattern="*.py"), tool_call("glob", pattern="*.md")]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(["-p", "look", "--max-turns", "2"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 3
    assert "Stopped after 2 iterations" in proc.stderr


def test_no_configuration_says_run_init(tmp_path: Path, isolated_home: Path) -> None:
    proc = run_mnemo(["-p", "hi"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 2
    assert "run `mnemo init`" in proc.stderr


def test_preset_ask_uses_read_only_tools(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("It is in app.py.")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(["ask", "where is main?"], cwd=tmp_path, home=isolated_home)
        body = server.chat_requests[0].body
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "It is in app.py."
    names = {t["function"]["name"] for t in body["tools"]}
    assert "file_read" in names and "grep" in names
    assert not names & {"file_write", "file_edit", "shell_exec"}
    assert "Question: where is main?" in str(body["messages"][-1]["content"])


def test_init_non_interactive_writes_config_and_tests_the_model(
    tmp_path: Path, isolated_home: Path
) -> None:
    with FakeOpenAIServer([text("ok")]) as server:
        proc = run_mnemo(
            [
                "init",
                "--non-interactive",
                "--provider",
                "local",
                "--base-url",
                server.base_url,
                "--model",
                "qwen",
                "--alias",
                "mine",
            ],
            cwd=tmp_path,
            home=isolated_home,
        )
        probed = len(server.chat_requests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert probed == 1 and "✓ test call" in proc.stdout
    config = (isolated_home / "config.toml").read_text()
    assert 'active_model = "mine"' in config and 'model = "qwen"' in config


def test_init_fails_when_the_test_call_fails(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([error(404, "model qwen not found")]) as server:
        proc = run_mnemo(
            [
                "init",
                "--non-interactive",
                "--provider",
                "local",
                "--base-url",
                server.base_url,
                "--model",
                "qwen",
            ],
            cwd=tmp_path,
            home=isolated_home,
        )
    assert proc.returncode == 1
    assert "model qwen not found" in proc.stdout
    assert not (isolated_home / "config.toml").exists()


def test_doctor_reports_each_check(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("ok")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(["doctor"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert any(line.startswith("✓ endpoint") and "answered" in line for line in lines)
    assert any(line.startswith("✓ ripgrep") for line in lines)
    assert lines[-1] == "All good."


def test_doctor_fails_on_unreachable_endpoint(tmp_path: Path, isolated_home: Path) -> None:
    write_global_config(isolated_home, _config("http://127.0.0.1:9/v1"))
    proc = run_mnemo(["doctor"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 1
    assert any(line.startswith("✗ endpoint") for line in proc.stdout.splitlines())


def test_version_and_help_are_fast_paths(tmp_path: Path, isolated_home: Path) -> None:
    version = run_mnemo(["--version"], cwd=tmp_path, home=isolated_home)
    assert version.returncode == 0 and version.stdout.startswith("mnemo ")
    helptext = run_mnemo(["--help"], cwd=tmp_path, home=isolated_home)
    assert helptext.returncode == 0
    for command in ("init", "doctor", "ask", "fix", "review", "explain", "analyze"):
        assert command in helptext.stdout
