"""The ``Approver`` of ``mnemo mcp serve``: no terminal, so an ask-class action is put
to the MCP client's user as a yes/no form (elicitation), or refused with the reason.

Two protocol eras ask differently. On 2026-07-28 a tool call cannot wait for an
answer: the question goes back as an ``InputRequiredResult`` and the client
retries the same call with the answer (``InputNeeded`` carries it out of the guard;
the server turns it into that result). On 2025-11-25 the server sends an
``elicitation/create`` request in the middle of the call and waits. The server
sets ``current_asking`` for each call it serves, so one approver serves every
concurrent call, each asking its own client.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest

# The form the client's user answers: one required yes/no field.
APPROVE_FIELD = "approve"
APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        APPROVE_FIELD: {
            "type": "boolean",
            "title": "Allow this action?",
            "description": "Yes runs it once; no refuses it.",
        }
    },
    "required": [APPROVE_FIELD],
}
ANSWERED_BY = "the MCP client's user"
REFUSED_BY = "mnemo mcp serve"


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back from a form: accept / decline / cancel, and its fields."""

    action: str
    content: Mapping[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        return self.action == "accept" and bool((self.content or {}).get(APPROVE_FIELD) is True)


@dataclass(frozen=True, slots=True)
class Asking:
    """How the client of the call being served can be asked.

    ``form``: it declared form elicitation. ``suspend``: the call may end with the
    question and be retried with the answer (2026-07-28, a direct tool call).
    ``answers``/``state``: that retry's responses and the (sealed, then verified)
    state naming the question they answer. ``send``: put the form to the client now
    and wait (2025-11-25); None where no request can reach it."""

    form: bool
    suspend: bool = False
    answers: Mapping[str, Answer] = field(default_factory=dict)
    state: str | None = None
    send: Callable[[str], Awaitable[Answer]] | None = None


current_asking: ContextVar[Asking | None] = ContextVar("mnemo_mcp_asking", default=None)


class InputNeeded(Exception):
    """The question must go back to the client; the call is retried with the answer."""

    def __init__(self, key: str, question: str) -> None:
        super().__init__(question)
        self.key, self.question = key, question


def question_text(request: ApprovalRequest) -> str:
    lines = [f"mnemo asks to {request.summary}", f"Why it asks: {request.reason}"]
    if request.preview:
        lines.append(request.preview[:4_000])
    return "\n".join(lines)


def question_key(request: ApprovalRequest) -> str:
    """Names one question: an answer given to another call's question does not fit."""
    body = json.dumps(
        [request.tool, request.arguments, request.summary, request.reason],
        sort_keys=True,
        default=str,
    )
    return "approve-" + hashlib.sha256(body.encode()).hexdigest()[:24]


def _refuse(reason: str, why_not: str) -> ApprovalDecision:
    return ApprovalDecision(False, f"{reason}; {why_not}", by=REFUSED_BY)


class ElicitationApprover:
    """``core.protocols.Approver`` over the MCP client's elicitation."""

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        asking = current_asking.get()
        if asking is None or not asking.form:
            return _refuse(
                request.reason,
                "this MCP client cannot be asked (it declared no form elicitation), so "
                "mnemo mcp serve refuses actions that need approval; start it with "
                "--mode auto to let edits in the work directory run",
            )
        question = question_text(request)
        key = question_key(request)
        if asking.suspend:
            answer = asking.answers.get(key)
            if answer is None or asking.state != key:
                raise InputNeeded(key, question)
            return _decision(answer)
        if asking.send is None:
            return _refuse(
                request.reason,
                "the MCP client cannot be asked in the middle of this call on its "
                "protocol version (2026-07-28 asks only before a call runs)",
            )
        return _decision(await asking.send(question))


def _decision(answer: Answer) -> ApprovalDecision:
    if answer.allowed:
        return ApprovalDecision(True, "approved through the MCP client", by=ANSWERED_BY)
    said = "they declined" if answer.action != "cancel" else "they cancelled the question"
    return ApprovalDecision(False, said, by=ANSWERED_BY)
