"""The ``task`` tool: the model hands a sub-task to a named agent.

The agent runs in its own context (``app/subagents.py`` builds it) through the
session's guard; its events reach the front end nested under this call
(``SubagentEvent``) and its final report, usage and any refused calls come back as
the result. The tool itself is read-only, so the loop runs two ``task`` calls of one
answer at once; a writer agent then waits for every other sub-agent (``Gate``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from mnemocode.core.events import AgentEvent, SubagentEvent, ToolCallFinished
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult, ToolSpec, Usage
from mnemocode.extensions.agents.discovery import AgentCatalog
from mnemocode.extensions.agents.spec import AgentDef

TOOL_NAME = "task"
MAX_DEPTH = 2  # the main loop's sub-agents, and theirs; no deeper


@dataclass(slots=True)
class Outcome:
    """How one sub-agent run ended."""

    text: str
    stop_reason: str
    usage: Usage
    model_calls: int
    iterations: int


class RunSubagent(Protocol):
    async def __call__(
        self, agent: AgentDef, tools: list[str], prompt: str, *, ctx: ToolContext,
        emit: Callable[[AgentEvent], None], depth: int,
    ) -> Outcome: ...  # fmt: skip


@dataclass(slots=True)
class Gate:
    """Read-only sub-agents share it; a writer has it alone."""

    readers: int = 0
    writer: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @asynccontextmanager
    async def hold(self, *, exclusive: bool) -> AsyncIterator[None]:
        async with self._changed:
            if exclusive:
                await self._changed.wait_for(lambda: not self.writer and self.readers == 0)
                self.writer = True
            else:
                await self._changed.wait_for(lambda: not self.writer)
                self.readers += 1
        try:
            yield
        finally:
            async with self._changed:
                if exclusive:
                    self.writer = False
                else:
                    self.readers -= 1
                self._changed.notify_all()


@dataclass(slots=True)
class TaskToolset:
    """The ``task`` tool of one level: the main loop (depth 0) offers every agent;
    a sub-agent only the ones its ``## Delegation`` names."""

    catalog: AgentCatalog
    run: RunSubagent
    available: Callable[[], list[ToolSpec]]  # the tools a sub-agent may be given
    depth: int = 0
    targets: tuple[str, ...] | None = None  # None: every agent
    gate: Gate = field(default_factory=Gate)

    def offered(self) -> dict[str, AgentDef]:
        agents = self.catalog.agents()
        if self.targets is None:
            return agents
        return {n: a for n, a in agents.items() if n in self.targets}

    def specs(self) -> list[ToolSpec]:
        listing = "\n".join(f"- {a.name}: {a.description}" for a in self.offered().values())
        description = (
            "Hand a self-contained sub-task to a specialist agent. It works in its own "
            "context with its own tools and returns a final report; give it everything "
            "it needs in `prompt` (it does not see this conversation). Several read-only "
            "agents called in one answer run at the same time.\nAgents:\n" + (listing or "- (none)")
        )
        schema = {
            "type": "object",
            "properties": {
                "agent": {"type": "string", "description": "The agent's name, as listed."},
                "prompt": {"type": "string", "description": "The task, fully described."},
            },
            "required": ["agent", "prompt"],
        }
        return [ToolSpec(TOOL_NAME, description, schema, read_only=True)]

    def tools_of(self, agent: AgentDef) -> tuple[list[str], bool]:
        """The names this agent gets and whether they are all read-only (``plan``
        mode keeps only the read-only ones)."""
        specs = {s.name: s for s in self.available() if s.name != TOOL_NAME}
        names = agent.allowed_tools(list(specs))
        if agent.permission_mode == "plan":
            names = [n for n in names if specs[n].read_only]
        read_only = all(specs[n].read_only for n in names)
        if agent.delegation and self.depth + 1 < MAX_DEPTH:
            read_only = read_only and all(self._delegate_read_only(n) for n in agent.delegation)
        return names, read_only

    def _delegate_read_only(self, name: str) -> bool:
        target = self.catalog.get(name)
        if target is None:
            return True
        specs = {s.name: s for s in self.available() if s.name != TOOL_NAME}
        names = target.allowed_tools(list(specs))
        return target.permission_mode == "plan" or all(specs[n].read_only for n in names)

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        name, prompt = call.arguments.get("agent"), call.arguments.get("prompt")
        offered = self.offered()
        if call.name != TOOL_NAME or not isinstance(name, str) or name not in offered:
            known = ", ".join(offered) or "none"
            return ToolResult.of_text(
                call, f"Unknown agent {name!r}. Agents: {known}", is_error=True
            )
        if not isinstance(prompt, str) or not prompt.strip():
            return ToolResult.of_text(call, "`prompt` must describe the task", is_error=True)
        agent = offered[name]
        tools, read_only = self.tools_of(agent)
        refused: list[str] = []

        def nested(event: AgentEvent) -> None:
            if isinstance(event, ToolCallFinished) and event.result.denied_by:
                first = event.result.text.strip().splitlines()[0][:200]
                refused.append(f"{event.call.name}: {first}")
            ctx.emit(SubagentEvent(name, call.id, event, self.depth + 1))

        async with self.gate.hold(exclusive=not read_only):
            outcome = await self.run(
                agent, tools, prompt, ctx=ctx, emit=nested, depth=self.depth + 1
            )
        return ToolResult.of_text(
            call, report(agent, outcome, refused), is_error=outcome.stop_reason == "error"
        )


def report(agent: AgentDef, outcome: Outcome, refused: list[str]) -> str:
    usage = outcome.usage
    lines = [outcome.text.strip() or "(the agent gave no report)", ""]
    if refused:
        lines.append("Refused inside the sub-agent:")
        lines += [f"- {line}" for line in refused]
    if outcome.stop_reason not in ("end_turn",):
        lines.append(f"The agent stopped early: {outcome.stop_reason}.")
    lines.append(
        f"[agent {agent.name}: {outcome.iterations} iterations, {outcome.model_calls} model "
        f"calls, {usage.input_tokens} input + {usage.output_tokens} output tokens]"
    )
    return "\n".join(lines)
