"""Step 6, review: one call answering a structured verdict (a forced native tool
call, validated by pydantic). Fails closed: no verdict, or one that does not
validate, is a failed review."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mnemocode.agent.solver.calls import Caller
from mnemocode.agent.solver.outcome import SolveFailed
from mnemocode.core.types import Message, ToolSpec

REVIEW_TOOL = "submit_review"
MAX_DIFF_CHARS = 40_000


class Review(BaseModel):
    """Does the change do what was asked, and what is wrong with it."""

    model_config = ConfigDict(extra="ignore")

    verdict: Literal["ok", "problems"]
    problems: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok" and not self.problems


REVIEW_SPEC = ToolSpec(
    REVIEW_TOOL,
    "Give the verdict on the change: 'ok' when it does what was asked, else "
    "'problems' with each problem in one sentence (file and what to change).",
    Review.model_json_schema(),
)


def review_prompt(task: str, diff: str, checks: str) -> str:
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + "\n… (diff cut)"
    return (
        f"<task>\n{task}\n</task>\n\n<diff>\n{diff}</diff>\n\n<checks>\n{checks}\n</checks>\n\n"
        f"Review the change against the task and call {REVIEW_TOOL}."
    )


async def review(caller: Caller, task: str, diff: str, checks: str) -> Review:
    response = await caller.call(
        [Message.user(review_prompt(task, diff, checks))], [REVIEW_SPEC], tool_choice=REVIEW_TOOL
    )
    calls = [c for c in response.message.tool_calls if c.name == REVIEW_TOOL]
    if not calls:
        raise SolveFailed("review_failed", "the review gave no verdict")
    try:
        return Review.model_validate(calls[0].arguments)
    except ValidationError as exc:
        raise SolveFailed("review_failed", "the review's verdict did not parse") from exc
