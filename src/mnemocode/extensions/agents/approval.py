"""The ``task`` call itself needs no question: it only starts a sub-agent, and each
call that sub-agent makes goes through the same guard (and is asked on its own)."""

from __future__ import annotations

from dataclasses import dataclass

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolSpec
from mnemocode.extensions.agents.tool import TOOL_NAME
from mnemocode.safety.guard import Policy, Verdict


@dataclass(slots=True)
class TaskPolicy:
    inner: Policy

    def decide(self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext) -> Verdict:
        if call.name == TOOL_NAME:
            why = "starts a sub-agent; each of its tool calls is checked on its own"
            return Verdict("allow", why, "task:delegate")
        return self.inner.decide(call, spec, ctx)
