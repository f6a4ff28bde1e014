"""The context-first solver as the app wires it: `mnemo -p` with the real CLI, the
real openai SDK against the fake server, a real git repository, real ruff and
pytest. A change request goes to the solver on its own (auto); when the solver's
checks keep failing, the turn escalates to the tool loop with its edits rolled back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from tests.conftest import run_mnemo, write_global_config

CALC = "def add(a: int, b: int) -> int:\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"


def _repo(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(TEST)
    (root / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=root, check=True)
    return root


def _config(url: str) -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n[solver]\nfix_cycles = 1\n'
    )


def _edit(new: str) -> object:
    return tool_call("edit", path="calc.py", old_string="return a - b", new_string=new)


def test_a_change_request_is_solved_in_two_calls(tmp_path: Path, isolated_home: Path) -> None:
    repo = _repo(tmp_path / "repo")
    script = [_edit("return a + b"), tool_call("submit_review", verdict="ok", problems=[])]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(
            ["-p", "fix add in calc.py: it subtracts", "--yes", "--output-format", "json"],
            cwd=repo,
            home=isolated_home,
        )
        calls = len(server.chat_requests)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["strategy"] == "context"
    [rung] = record["rungs"]
    assert rung["outcome"] == "ok" and rung["model_calls"] == calls == 2
    assert record["result"].startswith("edit calc.py · ruff passed · pytest 1 passed · review ok")
    assert "return a + b" in (repo / "calc.py").read_text()


def test_checks_that_keep_failing_escalate_to_the_tool_loop_rolled_back(
    tmp_path: Path, isolated_home: Path
) -> None:
    repo = _repo(tmp_path / "repo")
    script = [
        _edit("return a * b"),  # solve: pytest fails
        tool_call("edit", path="calc.py", old_string="return a * b", new_string="return b"),
        # the tool loop, after the rollback: it sees the original file again
        tool_call(
            "file_edit", path="calc.py", old_string="return a - b", new_string="return a + b"
        ),
        text("Fixed: add adds."),
    ]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(
            ["-p", "fix add in calc.py: it subtracts", "--yes", "--output-format", "json"],
            cwd=repo,
            home=isolated_home,
        )
        direct_first = server.chat_requests[2]
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    context, direct = record["rungs"]
    assert context["strategy"] == "context" and context["outcome"] != "ok"
    assert context["rolled_back"] is True
    assert direct["strategy"] == "direct" and direct["outcome"] == "ok"
    # The tool loop was told why and what was tried.
    told = "\n".join(str(m.get("content")) for m in direct_first.messages)
    assert "</mnemo-escalation>" in told and "pytest" in told and "+    return b" in told
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert record["result"] == "Fixed: add adds."
