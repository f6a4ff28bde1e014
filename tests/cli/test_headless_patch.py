"""`mnemo -p` over the fake OpenAI server: apply_patch is offered to models whose
names look GPT/Codex-trained (``[tools] apply_patch = "auto"``), or as configured,
and a patch the model sends is applied through the guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from tests.conftest import run_mnemo, write_global_config

PATCH = (
    "*** Begin Patch\n*** Update File: calc.py\n@@\n"
    "-    return a - b\n+    return a + b\n*** End Patch\n"
)


def config(url: str, model: str, tools: str = "") -> str:
    return (
        f'active_model = "m"\n[models.m]\nprovider = "openai"\nmodel = "{model}"\n'
        f'base_url = "{url}"\nmax_retries = 0\n{tools}'
    )


def test_a_gpt_model_gets_apply_patch_and_its_patch_applies(
    tmp_path: Path, isolated_home: Path
) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    script = [tool_call("apply_patch", input=PATCH), text("Fixed add.")]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, config(server.base_url, "gpt-4.1"))
        proc = run_mnemo(
            ["-p", "fix add", "--yes", "--strategy", "direct"], cwd=tmp_path, home=isolated_home
        )
        names = [t["function"]["name"] for t in server.chat_requests[0].body["tools"]]
        second = server.chat_requests[1].messages
    assert proc.returncode == 0, proc.stderr
    assert "apply_patch" in names and "file_edit" in names
    assert (tmp_path / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    tool_msg = next(m for m in second if m["role"] == "tool")
    assert "M calc.py (+1/-1 lines)" in str(tool_msg["content"])


@pytest.mark.parametrize(
    ("model", "setting", "offered"),
    [
        ("gpt-4.1", "apply_patch = false\n", False),
        ("qwen2.5-coder", "apply_patch = true\n", True),
        ("qwen2.5-coder", "", False),
        ("o4-mini", 'apply_patch = "auto"\n', True),
    ],
)
def test_the_setting_decides_who_gets_it(
    tmp_path: Path, isolated_home: Path, model: str, setting: str, offered: bool
) -> None:
    with FakeOpenAIServer([text("ok")]) as server:
        write_global_config(isolated_home, config(server.base_url, model, f"[tools]\n{setting}"))
        proc = run_mnemo(["-p", "hi"], cwd=tmp_path, home=isolated_home)
        names = [t["function"]["name"] for t in server.chat_requests[0].body["tools"]]
    assert proc.returncode == 0, proc.stderr
    assert ("apply_patch" in names) is offered
