"""`mnemo safety check` and `mnemo audit` as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from tests.conftest import run_mnemo, write_global_config


def check(args: list[str], cwd: Path, home: Path) -> dict[str, object]:
    proc = run_mnemo(["safety", "check", "--json", *args], cwd=cwd, home=home)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_safety_check_commands_in_each_mode(tmp_path: Path, isolated_home: Path) -> None:
    assert check(["--", "git status"], tmp_path, isolated_home)["decision"] == "allow"
    rm = check(["--", "ls && rm -rf build"], tmp_path, isolated_home)
    assert rm["decision"] == "ask" and str(tmp_path / "build") in rm["writes"]  # type: ignore[operator]
    # auto mode runs it inside the sandbox (writes in the work directory); not a write outside
    auto = check(["--mode", "auto", "--", "rm -rf build"], tmp_path, isolated_home)
    assert auto["decision"] == "allow" and auto["rule"] == "auto:sandboxed"
    outside = check(["--mode", "auto", "--", "rm -rf ../elsewhere"], tmp_path, isolated_home)
    assert outside["decision"] == "deny"
    denied = check(["--", "rm -rf ~"], tmp_path, isolated_home)
    assert denied["decision"] == "deny" and str(denied["rule"]).startswith("deny:")


def test_safety_check_paths(tmp_path: Path, isolated_home: Path) -> None:
    inside = check(["--path", "src/x.py", "--write", "--mode", "auto"], tmp_path, isolated_home)
    assert inside["decision"] == "allow" and inside["zone"] == "workdir"
    secret = check(["--path", ".env"], tmp_path, isolated_home)
    assert secret["decision"] == "ask"


def test_safety_check_text_output_and_usage_errors(tmp_path: Path, isolated_home: Path) -> None:
    proc = run_mnemo(["safety", "check", "--", "rm -rf /"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 0 and proc.stdout.startswith("deny: ")
    bad = run_mnemo(["safety", "check"], cwd=tmp_path, home=isolated_home)
    assert bad.returncode == 2 and "give either a command" in bad.stderr


def test_audit_lists_the_decisions_of_a_run(tmp_path: Path, isolated_home: Path) -> None:
    script = [tool_call("shell_exec", command="rm -rf /"), text("refused, fine")]
    with FakeOpenAIServer(script) as server:
        write_global_config(
            isolated_home,
            f'active_model = "f"\n[models.f]\nmodel = "m"\nbase_url = "{server.base_url}"\n',
        )
        run = run_mnemo(
            ["-p", "clean up", "--strategy", "direct"], cwd=tmp_path, home=isolated_home
        )
    assert run.returncode == 0, run.stderr
    proc = run_mnemo(["audit", "--json"], cwd=tmp_path, home=isolated_home)
    entries = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(entries) == 1
    assert entries[0]["tool"] == "shell_exec" and entries[0]["decision"] == "deny"
    human = run_mnemo(["audit", "--decision", "deny"], cwd=tmp_path, home=isolated_home)
    assert "shell_exec" in human.stdout
