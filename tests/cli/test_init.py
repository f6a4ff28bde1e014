"""`mnemo init` adding to an existing config: a taken name is not replaced
silently, a model whose test call failed is not made the default, and a refusal
to save says so."""

from __future__ import annotations

import tomllib
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, error, text
from tests.conftest import run_mnemo, write_global_config

WORKING = (
    'active_model = "local"\n[models.local]\nprovider = "openai"\nmodel = "good"\n'
    'base_url = "http://127.0.0.1:8080/v1"\n'
)


def _config(home: Path) -> dict[str, object]:
    return tomllib.loads((home / "config.toml").read_text())


def test_a_taken_name_gets_a_free_one_without_alias(tmp_path: Path, isolated_home: Path) -> None:
    write_global_config(isolated_home, WORKING)
    args = ["init", "--non-interactive", "--no-test", "--provider", "local", "--model", "other"]
    proc = run_mnemo(args, cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "has a model named 'local' already; this one is 'local-2'" in proc.stdout
    models = _config(isolated_home)["models"]
    assert isinstance(models, dict)
    assert models["local"]["model"] == "good" and models["local-2"]["model"] == "other"


def test_interactive_asks_before_replacing(tmp_path: Path, isolated_home: Path) -> None:
    write_global_config(isolated_home, WORKING)
    args = ["init", "--no-test", "--provider", "local", "--model", "other", "--base-url", "x"]
    # key variable: none; name: local (taken) → do not replace → mine
    answers = "\nlocal\nn\nmine\n"
    proc = run_mnemo(args, cwd=tmp_path, home=isolated_home, stdin=answers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "'local' is already good at http://127.0.0.1:8080/v1; replace it?" in proc.stdout
    models = _config(isolated_home)["models"]
    assert isinstance(models, dict)
    assert models["local"]["model"] == "good" and models["mine"]["model"] == "other"


def test_save_anyway_does_not_make_a_failed_model_the_default(
    tmp_path: Path, isolated_home: Path
) -> None:
    write_global_config(isolated_home, WORKING)
    with FakeOpenAIServer([error(404, "model broken not found")]) as server:
        args = ["init", "--provider", "local", "--model", "broken", "--base-url", server.base_url]
        proc = run_mnemo(args, cwd=tmp_path, home=isolated_home, stdin="\nbroken\ny\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = _config(isolated_home)
    assert config["active_model"] == "local"
    assert "not the default model, as its test call failed" in proc.stdout


def test_no_to_save_anyway_says_nothing_was_saved(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([error(404, "model broken not found")]) as server:
        args = ["init", "--provider", "local", "--model", "broken", "--base-url", server.base_url]
        proc = run_mnemo(args, cwd=tmp_path, home=isolated_home, stdin="\n\nn\n")
    assert proc.returncode == 1
    assert "Nothing was saved" in proc.stdout and "mnemo init" in proc.stdout
    assert not (isolated_home / "config.toml").exists()


def test_the_test_call_message_is_one_line(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("ok")]) as server:
        args = ["init", "--non-interactive", "--provider", "local", "--base-url", server.base_url]
        proc = run_mnemo(args, cwd=tmp_path, home=isolated_home)
    lines = proc.stdout.splitlines()
    assert any(line.startswith("✓ test call: answered") for line in lines)
    assert "Run `mnemo` to start" in proc.stdout


def test_a_failed_test_call_puts_the_advice_on_its_own_line(
    tmp_path: Path, isolated_home: Path
) -> None:
    args = [
        "init",
        "--non-interactive",
        "--provider",
        "local",
        "--base-url",
        "http://127.0.0.1:9/v1",
    ]
    proc = run_mnemo(args, cwd=tmp_path, home=isolated_home)
    lines = proc.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("✗ test call:"))
    assert lines[failed].endswith("All connection attempts failed")
    assert (
        lines[failed + 1]
        == "  could not reach the endpoint; check base_url and your network (mnemo doctor)"
    )
