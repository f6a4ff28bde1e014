"""What a solve returns, and the one signal that ends it early."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mnemocode.core.types import Usage

Failure = Literal[
    "checks_failing",
    "review_failed",
    "invalid_output",
    "truncated",
    "context_overflow",
    "denied",
    "model_error",
]


class SolveFailed(Exception):
    """Raised by a step that cannot go on; the pipeline turns it into the outcome."""

    def __init__(self, failure: Failure, reason: str) -> None:
        super().__init__(reason)
        self.failure: Failure = failure
        self.reason = reason


@dataclass(slots=True)
class SolveOutcome:
    ok: bool
    failure: Failure | None
    reason: str  # one line: why it failed (or "")
    summary: str  # "edit src/x.py · ruff passed · pytest 6 passed · review ok"
    text: str  # the answer shown to the user
    files_read: list[str] = field(default_factory=list)
    failing_checks: list[str] = field(default_factory=list)
    diff: str = ""
    operations: list[str] = field(default_factory=list)
    model_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    duration_s: float = 0.0
