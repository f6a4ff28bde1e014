"""A sub-agent for the ``task`` tool: a second ``Agent`` over the session's guard.

Same guard means the same approver, rules, checkpoints and audit log; the sub-agent
sees only its tool subset, has its own system prompt (the agent's body) and an empty
history, its own model (an alias, or the parent's) and turn cap. It runs under the
parent's turn number, so ``/undo`` of that turn takes its edits back too. Its model
calls join the parent's totals. ``SubagentStop`` hooks run when it is done (exit 2
makes it go on, as in Claude Code).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.loop import Agent, Emit, ModelSlot, StopCheck
from mnemocode.core.errors import MnemoError
from mnemocode.core.protocols import ToolContext, Toolset
from mnemocode.core.types import ToolCall, ToolResult, ToolSpec, Usage
from mnemocode.extensions.agents.discovery import AgentCatalog
from mnemocode.extensions.agents.spec import AgentDef
from mnemocode.extensions.agents.tool import MAX_DEPTH, Outcome, TaskToolset
from mnemocode.llm.tokens import count_tokens
from mnemocode.tools.base import CombinedToolset

if TYPE_CHECKING:
    from mnemocode.extensions.hooks.service import Hooks


@dataclass(slots=True)
class ToolSubset:
    """The guard as one agent sees it: only the tools it was given."""

    inner: Toolset
    names: frozenset[str]

    def specs(self) -> list[ToolSpec]:
        return [s for s in self.inner.specs() if s.name in self.names]

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        if call.name not in self.names:
            known = ", ".join(sorted(self.names)) or "none"
            return ToolResult.of_text(
                call, f"Tool {call.name!r} is not among this agent's tools ({known})",
                is_error=True,
            )  # fmt: skip
        return await self.inner.call(call, ctx)


@dataclass(slots=True)
class AuditedDelegation:
    """A sub-agent's own ``task`` tool (only its Delegation targets). It cannot sit
    behind the guard, whose ``task`` offers every agent; each call is audited as the
    guard would audit it (the calls of the agent it starts pass the guard)."""

    inner: Toolset
    guard: Toolset

    def specs(self) -> list[ToolSpec]:
        return self.inner.specs()

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        result = await self.inner.call(call, ctx)
        audit = getattr(self.guard, "audit", None)
        if audit is not None:
            from mnemocode.safety.audit import AuditEntry

            audit.record(
                AuditEntry.now(
                    session=ctx.session_id, turn=ctx.turn, tool=call.name,
                    arguments=call.arguments, decision="allow", outcome="approved",
                    decided_by="delegation", source="policy",
                    reason="a sub-agent delegates to an agent its Delegation names",
                    result=result.text, checkpoint=None,
                )
            )  # fmt: skip
        return result


@dataclass(slots=True)
class SubagentRunner:
    guard: Toolset
    catalog: AgentCatalog
    slot_for: Callable[[str], ModelSlot]  # a model alias of the config
    parent: Agent | None = None  # set once the agent that delegates exists
    hooks: Callable[[], Hooks | None] = lambda: None
    # A skill's instructions by name (None: no such skill), for the agent's ``skills``.
    skill_text: Callable[[str], str | None] = lambda _name: None

    def _prompt_of(self, agent: AgentDef) -> str:
        return _with_skills(agent.prompt, [(n, self.skill_text(n)) for n in agent.skills])

    async def __call__(
        self, agent: AgentDef, tools: list[str], prompt: str, *, ctx: ToolContext,
        emit: Emit, depth: int,
    ) -> Outcome:  # fmt: skip
        parent = self.parent
        if parent is None:
            raise RuntimeError("SubagentRunner.parent is not set")
        try:
            slot = parent.slot if agent.model is None else self.slot_for(agent.model)
        except MnemoError as exc:
            why = f"agent {agent.name!r} could not start: its model {agent.model!r}: {exc}"
            return Outcome(why, "error", Usage(), 0, 0)
        toolset: Toolset = ToolSubset(self.guard, frozenset(tools))
        child: SubagentRunner | None = None
        if agent.delegation and depth < MAX_DEPTH:
            child = SubagentRunner(
                self.guard, self.catalog, self.slot_for, hooks=self.hooks,
                skill_text=self.skill_text,
            )  # fmt: skip
            nested = TaskToolset(
                self.catalog, child, self.guard.specs, depth=depth, targets=agent.delegation
            )
            toolset = CombinedToolset([toolset, AuditedDelegation(nested, self.guard)])
        names = {s.name for s in toolset.specs()}
        prefix = SystemPrefix.build(ctx.cwd, [], self._prompt_of(agent), tool_names=names)
        turns = agent.max_turns or parent.config.max_iterations
        sub = Agent(
            slot=slot,
            toolset=toolset,
            tool_context=dataclasses.replace(ctx, seen_files={}, current_call_id=""),
            context=ContextBuilder(
                prefix, parent.context.max_output_tokens, parent.context.temperature
            ),
            config=parent.config.model_copy(update={"max_iterations": turns}),
            meter=TokenMeter(count_tokens),
            first_turn=max(ctx.turn, 1),  # the parent's turn: checkpoints and /undo
        )
        if child is not None:
            child.parent = sub
        hooks = self.hooks()
        if hooks is not None:
            sub.stop_check = _subagent_stop(hooks, agent.name)
        try:
            finished = await sub.run_turn(prompt, emit)
        finally:
            parent.totals.calls.extend(sub.totals.calls)
        if hooks is not None and finished.stop_reason != "end_turn":
            await _subagent_stop(hooks, agent.name)(ctx.session_id, finished.text, True, emit)
        totals = sub.totals
        return Outcome(
            finished.text, finished.stop_reason, totals.usage, totals.model_calls,
            finished.iterations,
        )  # fmt: skip


def _with_skills(prompt: str, skills: list[tuple[str, str | None]]) -> str:
    """The agent's prompt, then the instructions of each skill it names (Claude Code's
    ``skills``: preloaded, not listed); a name no skill has is said, not skipped."""
    parts = [prompt.rstrip()]
    for name, body in skills:
        parts.append(body if body is not None else f"(skill {name!r} is not installed)")
    return "\n\n".join(parts)


def _subagent_stop(hooks: Hooks, name: str) -> StopCheck:
    async def check(session_id: str, answer: str, active: bool, emit: Emit) -> str | None:
        replies = await hooks.fire(
            "SubagentStop", session_id, emit, {name},
            stop_hook_active=active, agent_type=name, last_assistant_message=answer,
        )  # fmt: skip
        if replies.stop is not None or not replies.blocked:
            return None
        return replies.reason

    return check
