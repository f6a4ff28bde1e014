"""apply_patch through the real guard: decided as a write of every file it names
(the strictest verdict stands), previewed as diffs, checkpointed so undo restores
each file, and the shell heredoc form Codex CLI's models send runs as the tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemocode.config.settings import SafetyConfig
from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest, ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.approvers import StaticApprover, headless_approver
from mnemocode.safety.setup import Safety, build_safety
from mnemocode.tools.apply_patch import apply_patch
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import builtin_tools


class Answers:
    def __init__(self, allow: bool = True) -> None:
        self.allow = allow
        self.asked: list[ApprovalRequest] = []

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.asked.append(request)
        return ApprovalDecision(self.allow, "", "once", "user")


def setup(tmp_path: Path, mode: str, approver: object) -> tuple[Safety, ToolContext]:
    work, home, shared = tmp_path / "work", tmp_path / "home", tmp_path / "shared"
    for folder in (work, home, shared):
        folder.mkdir(exist_ok=True)
    (work / "a.txt").write_text("alpha\n")
    (shared / "b.txt").write_text("beta\n")
    safety = build_safety(
        SafetyConfig(mode=mode, extra_allowed_paths=[str(shared)]),  # type: ignore[arg-type]
        inner=FunctionToolset([*builtin_tools(), apply_patch]),
        approver=approver,  # type: ignore[arg-type]
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=home / ".mnemo" / "projects" / "p",
        env={},
    )
    return safety, ToolContext(cwd=work, sandbox=safety.sandbox, session_id="s", turn=1)


def patch(*body: str) -> ToolCall:
    text = "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"
    return ToolCall("p1", "apply_patch", {"input": text})


TWO_FILES = ("*** Update File: a.txt", "@@", "-alpha", "+ALPHA", "*** Update File: ../shared/b.txt")
TWO_FILES += ("@@", "-beta", "+BETA", "*** Add File: c.txt", "+new")


async def test_ask_mode_asks_once_with_every_file_and_undo_restores_each(tmp_path: Path) -> None:
    answers = Answers()
    safety, ctx = setup(tmp_path, "ask", answers)
    result = await safety.guard.call(patch(*TWO_FILES), ctx)
    assert not result.is_error, result.text
    [question] = answers.asked
    assert question.summary == "patch a.txt, ../shared/b.txt, c.txt"
    assert question.preview is not None
    assert "+ALPHA" in question.preview and "+BETA" in question.preview
    assert "+new" in question.preview
    work, shared = tmp_path / "work", tmp_path / "shared"
    assert (work / "a.txt").read_text() == "ALPHA\n" and (shared / "b.txt").read_text() == "BETA\n"
    safety.guard.end_turn("s", 1)
    assert safety.checkpoints is not None
    safety.checkpoints.undo("s", 1)
    assert (work / "a.txt").read_text() == "alpha\n"
    assert (shared / "b.txt").read_text() == "beta\n"
    assert not (work / "c.txt").exists()


async def test_a_protected_path_anywhere_in_the_patch_makes_it_ask(tmp_path: Path) -> None:
    answers = Answers(allow=False)
    safety, ctx = setup(tmp_path, "bypass", answers)
    call = patch(
        "*** Update File: a.txt", "@@", "-alpha", "+x", "*** Add File: .git/hooks/pre-commit"
    )
    call.arguments["input"] = call.arguments["input"].replace(
        "*** End Patch", "+#!/bin/sh\n*** End Patch"
    )
    result = await safety.guard.call(call, ctx)
    assert result.is_error and len(answers.asked) == 1
    assert "protected" in answers.asked[0].reason or ".git" in answers.asked[0].reason
    assert (tmp_path / "work" / "a.txt").read_text() == "alpha\n"
    assert not (tmp_path / "work" / ".git" / "hooks" / "pre-commit").exists()


async def test_auto_mode_writes_inside_the_work_directory_only(tmp_path: Path) -> None:
    safety, ctx = setup(tmp_path, "auto", StaticApprover(True))
    inside = await safety.guard.call(patch("*** Update File: a.txt", "@@", "-alpha", "+A"), ctx)
    assert not inside.is_error, inside.text
    assert (tmp_path / "work" / "a.txt").read_text() == "A\n"
    outside = patch("*** Update File: a.txt", "@@", "-A", "+B", "*** Add File: ../home/x.txt", "+x")
    refused = await safety.guard.call(outside, ctx)
    assert refused.is_error and "auto mode does not ask" in refused.text
    assert (tmp_path / "work" / "a.txt").read_text() == "A\n"
    assert not (tmp_path / "home" / "x.txt").exists()


async def test_headless_without_yes_refuses_a_patch(tmp_path: Path) -> None:
    safety, ctx = setup(tmp_path, "ask", headless_approver(False))
    result = await safety.guard.call(patch("*** Update File: a.txt", "@@", "-alpha", "+A"), ctx)
    assert result.is_error and "rerun with --yes" in result.text
    assert (tmp_path / "work" / "a.txt").read_text() == "alpha\n"


@pytest.mark.parametrize("mode", ["ask", "auto"])
async def test_the_shell_heredoc_form_runs_as_the_tool(tmp_path: Path, mode: str) -> None:
    answers = Answers()
    safety, ctx = setup(tmp_path, mode, answers)
    body = "*** Begin Patch\n*** Update File: a.txt\n@@\n-alpha\n+from the shell\n*** End Patch"
    call = ToolCall("s1", "shell_exec", {"command": f"apply_patch <<'EOF'\n{body}\nEOF\n"})
    result = await safety.guard.call(call, ctx)
    assert not result.is_error, result.text
    assert result.name == "shell_exec" and result.text.startswith("Applied the patch:")
    assert (tmp_path / "work" / "a.txt").read_text() == "from the shell\n"
    assert [q.summary for q in answers.asked] == ([] if mode == "auto" else ["patch a.txt"])
    assert safety.audit is not None
    [entry] = safety.audit.query(session="s")
    assert entry.tool == "apply_patch"


async def test_without_the_tool_the_heredoc_is_an_ordinary_command(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    safety = build_safety(
        SafetyConfig(mode="ask"),
        inner=FunctionToolset(builtin_tools()),
        approver=StaticApprover(False),
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=home / ".mnemo" / "projects" / "p",
        env={},
    )
    ctx = ToolContext(cwd=work, sandbox=safety.sandbox, session_id="s")
    body = "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch"
    call = ToolCall("s1", "shell_exec", {"command": f"apply_patch <<'EOF'\n{body}\nEOF\n"})
    await safety.guard.call(call, ctx)
    assert safety.audit is not None
    assert [e.tool for e in safety.audit.query(session="s")] == ["shell_exec"]


async def test_a_patch_that_does_not_parse_runs_nothing(tmp_path: Path) -> None:
    answers = Answers()
    safety, ctx = setup(tmp_path, "ask", answers)
    result = await safety.guard.call(ToolCall("p", "apply_patch", {"input": "nonsense"}), ctx)
    assert result.is_error and "*** Begin Patch" in result.text and answers.asked == []
