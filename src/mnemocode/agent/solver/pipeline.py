"""The context-first solver: plan → gather → solve → verify → fix → review →
polish, each step one small module. The happy path costs two model calls (solve
and review; the plan is skipped when the project fits the gather budget) or three.

Every operation goes through the guarded toolset the direct loop uses, in the
turn's (session, turn) checkpoint, so the whole solve is one undo step; a denial
stops the solve and puts back what it had changed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.loop import Emit, ModelSlot
from mnemocode.agent.solver.calls import Caller
from mnemocode.agent.solver.fix import fix_prompt
from mnemocode.agent.solver.gather import Gathered, gather
from mnemocode.agent.solver.outcome import SolveFailed, SolveOutcome
from mnemocode.agent.solver.plan import Plan, make_plan, whole_project
from mnemocode.agent.solver.polish import polish_prompt
from mnemocode.agent.solver.project import AnyMap, Project, map_files
from mnemocode.agent.solver.review import review
from mnemocode.agent.solver.runner import ToolRunner
from mnemocode.agent.solver.solve import (
    Applied,
    Changes,
    apply_ops,
    not_run,
    op_specs,
    parse_ops,
    tool_messages,
)
from mnemocode.agent.solver.summary import summary_line
from mnemocode.agent.solver.verify import Verdict, Verifier, failures_text
from mnemocode.config.settings import SolverConfig
from mnemocode.core.events import SolverStep
from mnemocode.core.protocols import ToolContext, Toolset
from mnemocode.core.types import Message, ModelRequest, SystemBlock

if TYPE_CHECKING:
    from mnemocode.safety.checkpoints import CheckpointStore

HISTORY_MESSAGES = 10
RULES = """You are solving one change request in a single answer. Make the whole change
with the edit, write and run tools, all calls in this one answer: edit changes part
of a file (old_string must match exactly one place), write creates a file, run runs
a command. Keep the change small and in the project's style; add or update tests
when the project has them. After the calls, say in one or two sentences what you did."""


class ContextSolver:
    def __init__(
        self,
        *,
        slot: ModelSlot,
        toolset: Toolset,
        tool_context: ToolContext,
        config: SolverConfig,
        codemap: AnyMap | None,
        meter: TokenMeter,
        system_prompt: str,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self.slot = slot
        self.toolset = toolset
        self.tool_context = tool_context
        self.config = config
        self.codemap = codemap
        self.meter = meter
        self.system_prompt = system_prompt
        # Given: a denied solve is undone through the turn's checkpoint (commands
        # included); else the solver puts back the files it edited itself.
        self.checkpoints = checkpoints

    async def run(
        self, task: str, emit: Emit, *, history: Sequence[Message] = (), learnt: str = ""
    ) -> SolveOutcome:
        started = time.perf_counter()
        system = [SystemBlock(self.system_prompt, cache=True), SystemBlock(RULES)]
        state = _Run(
            self,
            task,
            emit,
            learnt,
            Caller(self.slot, system, emit, self.meter),
            ToolRunner(self.toolset, self.tool_context, emit),
            Changes(self.tool_context.cwd),
            _text_history(history),
        )
        try:
            outcome = await state.go()
        except SolveFailed as exc:
            outcome = state.failed(exc)
        outcome.duration_s = time.perf_counter() - started
        return outcome


def _text_history(history: Sequence[Message]) -> list[Message]:
    """The conversation so far as plain text (its tool calls belong to other tools)."""
    kept = [m for m in history if m.role in {"user", "assistant"} and m.text.strip()]
    return [Message(m.role, [*m.content]) for m in kept[-HISTORY_MESSAGES:]]


@dataclass(slots=True)
class _Run:
    solver: ContextSolver
    task: str
    emit: Emit
    learnt: str
    caller: Caller
    runner: ToolRunner
    changes: Changes
    history: list[Message]
    messages: list[Message] = field(default_factory=list)
    gathered: Gathered = field(default_factory=Gathered)
    verdicts: list[Verdict] = field(default_factory=list)
    verifier: Verifier | None = None
    texts: list[str] = field(default_factory=list)
    step: str = "plan"

    def _step(self, step: str, status: str, detail: str = "") -> None:
        self.step = step
        self.emit(SolverStep(step, status, detail))  # type: ignore[arg-type]

    def count(self, text: str) -> int:
        return self.solver.meter.measure(ModelRequest([Message.user(text)]))

    async def go(self) -> SolveOutcome:
        config = self.solver.config
        root = self.solver.tool_context.cwd
        project = Project.scan(root, await map_files(self.solver.codemap, root))
        await asyncio.to_thread(self.changes.start)
        self.verifier = Verifier(
            root, self.solver.tool_context.sandbox, config.verify_timeout_s, project.files
        )
        plan = await self._plan(project)
        self._step("gather", "started")
        self.gathered = await gather(
            plan, self.runner, self.count,
            total=config.gather_tokens, per_file=config.gather_file_tokens,
        )  # fmt: skip
        cut = f"; cut: {'; '.join(self.gathered.cut)}" if self.gathered.cut else ""
        detail = f"{len(self.gathered.files_read)} files, ~{self.gathered.tokens} tokens{cut}"
        self._step("gather", "finished", detail)
        self._step("solve", "started")
        applied = await self._round(self._solve_prompt(plan), edit_only=False)
        if not applied.results:
            raise SolveFailed("invalid_output", "the solve answer made no change (no operations)")
        self._step("solve", "finished", ", ".join(self.changes.operations))
        errors = await self._verify(applied)
        for cycle in range(1, config.fix_cycles + 1):
            if not self._failing(errors):
                break
            self._step("fix", "started", f"cycle {cycle} of {config.fix_cycles}")
            prompt = fix_prompt(failures_text(self.verdicts), errors, cycle, config.fix_cycles)
            errors = await self._verify(await self._round(prompt, edit_only=True))
            self._step("fix", "finished" if not self._failing(errors) else "failed")
        self._fail_if_failing(errors)
        review_words = await self._review() if config.review else ""
        return self._outcome(review_words)

    async def _plan(self, project: Project) -> Plan:
        solver = self.solver
        plan = whole_project(project, solver.config.gather_tokens)
        if plan is not None:
            detail = f"the project (~{project.tokens} tokens) fits the gather budget"
            self._step("plan", "skipped", detail)
            return plan
        self._step("plan", "started")
        plan = await make_plan(
            self.caller, self.history, self.task, project=project, codemap=solver.codemap,
            learnt=self.learnt,
        )  # fmt: skip
        detail = f"{len(plan.files)} files, {len(plan.searches)} searches"
        self._step("plan", "finished", detail + (f": {plan.approach}" if plan.approach else ""))
        return plan

    def _solve_prompt(self, plan: Plan) -> str:
        parts = [f"<task>\n{self.task}\n</task>"]
        if self.learnt:
            parts.append(self.learnt)
        if plan.approach:
            parts.append(f"<approach>\n{plan.approach}\n</approach>")
        parts.append(f"<context>\n{self.gathered.text()}\n</context>")
        parts.append("Make the change now.")
        return "\n\n".join(parts)

    async def _round(self, prompt: str, *, edit_only: bool) -> Applied:
        """One call that answers with operations, applied in order."""
        if not self.messages:
            self.messages = [*self.history]
        self.messages.append(Message.user(prompt))
        response = await self.caller.call(self.messages, op_specs(edit_only=edit_only))
        self.messages.append(response.message)
        ops = parse_ops(response.message, edit_only=edit_only)
        if response.message.text.strip():
            self.texts.append(response.message.text.strip())
        assert self.verifier is not None
        fresh = [op.path for op in ops if op.path and op.path not in self.changes.before]
        await self.verifier.take_baseline([p for p in fresh if p is not None])
        applied = await apply_ops(ops, self.runner, self.changes)
        self.messages.extend(tool_messages(applied))
        if applied.denied is not None:
            self.messages.extend(not_run(response.message, applied))
            rolled = await self._roll_back()
            why = applied.denied.text.strip().splitlines()[0]
            raise SolveFailed("denied", f"{why} ({rolled})")
        return applied

    async def _roll_back(self) -> str:
        checkpoints, ctx = self.solver.checkpoints, self.solver.tool_context
        if checkpoints is not None:
            await asyncio.to_thread(checkpoints.undo, ctx.session_id, ctx.turn, force=True)
            return "the solve's changes were undone through the turn's checkpoint"
        self.changes.restore()
        return "the files it had changed were put back"

    async def _verify(self, applied: Applied) -> list[str]:
        assert self.verifier is not None
        self._step("verify", "started")
        self.verdicts = await self.verifier.verify(self.changes.changed())
        errors = applied.errors()
        words = ", ".join(v.words() for v in self.verdicts) or "no checks apply"
        status = "failed" if self._failing(errors) else "finished"
        self._step(
            "verify", status, words + (f"; {len(errors)} failed operations" if errors else "")
        )
        return errors

    def _failing(self, errors: Sequence[str]) -> bool:
        return bool(errors) or any(not v.passed for v in self.verdicts)

    def _fail_if_failing(self, errors: Sequence[str]) -> None:
        failing = [v.one_line() for v in self.verdicts if not v.passed]
        if failing:
            raise SolveFailed("checks_failing", "checks still failing: " + "; ".join(failing))
        if errors:
            raise SolveFailed("invalid_output", errors[0])

    async def _review(self) -> str:
        self._step("review", "started")
        checks = ", ".join(v.words() for v in self.verdicts) or "no checks apply"
        verdict = await review(self.caller, self.task, self.changes.diff(), checks)
        if verdict.ok:
            self._step("review", "finished", "ok")
            return "review ok"
        self._step("review", "finished", f"{len(verdict.problems)} problems")
        self._step("polish", "started")
        errors = await self._verify(
            await self._round(polish_prompt(verdict.problems), edit_only=True)
        )
        self._fail_if_failing(errors)
        self._step("polish", "finished")
        many = "s" if len(verdict.problems) != 1 else ""
        return f"review: {len(verdict.problems)} problem{many} polished"

    def _outcome(self, review_words: str, failed: SolveFailed | None = None) -> SolveOutcome:
        return SolveOutcome(
            ok=failed is None,
            failure=failed.failure if failed else None,
            reason=failed.reason if failed else "",
            summary=summary_line(self.changes.operations, self.verdicts, review_words),
            text="\n\n".join(self.texts),
            files_read=list(self.gathered.files_read),
            failing_checks=[v.one_line() for v in self.verdicts if not v.passed],
            diff=self.changes.diff(),
            operations=list(self.changes.operations),
            model_calls=self.caller.calls,
            usage=self.caller.usage,
            cost_usd=self.caller.cost_usd,
        )

    def failed(self, exc: SolveFailed) -> SolveOutcome:
        self._step(self.step, "failed", exc.reason)
        return self._outcome("", exc)
