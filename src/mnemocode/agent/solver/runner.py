"""Runs one tool call through the guarded toolset the direct loop uses, so zones,
redaction, approval, checkpoints and the audit log apply, and front ends see it."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from mnemocode.agent.loop import Emit
from mnemocode.core.events import ToolCallFinished, ToolCallStarted
from mnemocode.core.protocols import ToolContext, Toolset
from mnemocode.core.types import ToolCall, ToolResult


@dataclass(slots=True)
class ToolRunner:
    toolset: Toolset
    context: ToolContext
    emit: Emit
    _next: int = 0

    def new_id(self, prefix: str) -> str:
        self._next += 1
        return f"solver_{prefix}_{self._next}"

    def offers(self, name: str) -> bool:
        return any(spec.name == name for spec in self.toolset.specs())

    async def run(self, call: ToolCall) -> ToolResult:
        self.emit(ToolCallStarted(call))
        started = time.perf_counter()
        ctx = dataclasses.replace(self.context, current_call_id=call.id, emit=self.emit)
        try:
            result = await self.toolset.call(call, ctx)
        except Exception as exc:  # a broken tool must not end the solve as a crash
            result = ToolResult.of_text(
                call, f"Tool {call.name} failed: {type(exc).__name__}: {exc}", is_error=True
            )
        ran = result.duration_s
        self.emit(
            ToolCallFinished(call, result, time.perf_counter() - started if ran is None else ran)
        )
        return result
