"""The guard re-checks a write target after approval: a symlink swapped in while
the user was reading the question does not redirect the write."""

from __future__ import annotations

import os
from pathlib import Path

from mnemocode.config.settings import SafetyConfig
from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest, ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.setup import build_safety
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import builtin_tools


class SwappingApprover:
    """Says yes — after replacing the target with a link to a file outside."""

    def __init__(self, target: Path, outside: Path) -> None:
        self.target, self.outside = target, outside

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.target.unlink()
        os.symlink(self.outside, self.target)
        return ApprovalDecision(True, by="user")


async def test_symlink_swapped_during_approval_is_refused(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    victim = home / "important.txt"
    victim.write_text("keep me\n")
    target = work / "notes.txt"
    target.write_text("old\n")
    safety = build_safety(
        SafetyConfig(mode="ask"),
        inner=FunctionToolset(builtin_tools()),
        approver=SwappingApprover(target, victim),
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=home / ".mnemo" / "projects" / "p",
        env={},
    )
    ctx = ToolContext(cwd=work, sandbox=LocalSandbox(), session_id="s", turn=1)
    call = ToolCall(
        "c1", "file_write", {"path": "notes.txt", "content": "new\n", "overwrite_shrink": True}
    )

    result = await safety.guard.call(call, ctx)

    assert result.is_error and "target changed after it was checked" in result.text
    assert victim.read_text() == "keep me\n"
    entry = safety.audit.query()[-1]
    assert entry.outcome == "denied" and entry.decided_by == "recheck"
