"""Approvers that need no terminal: for headless runs and tests. The interactive
one lives with the REPL in ``cli``."""

from __future__ import annotations

from dataclasses import dataclass, field

from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest


@dataclass(slots=True)
class StaticApprover:
    """Answers every question the same way; records what it was asked."""

    allow: bool
    reason: str = ""
    by: str = "headless policy"
    asked: list[ApprovalRequest] = field(default_factory=list)

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.asked.append(request)
        return ApprovalDecision(self.allow, self.reason, "once", self.by)


def headless_approver(yes: bool) -> StaticApprover:
    if yes:
        return StaticApprover(True, "approved by --yes", by="--yes")
    return StaticApprover(
        False,
        "this headless run may not change files or run commands; "
        "rerun with --yes or --mode auto to allow it",
    )
