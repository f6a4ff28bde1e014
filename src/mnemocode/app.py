"""``build_app``: the one place that turns Settings into working objects.

Front ends call this and then talk to ``App``; nothing else reads Settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.instructions import InstructionFile, find_instructions
from mnemocode.agent.loop import Agent, ModelSlot
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.errors import MnemoError
from mnemocode.core.events import AgentEvent, TurnFinished
from mnemocode.core.protocols import Approver, ChatModel, ToolContext, Toolset
from mnemocode.core.types import Message, ModelRequest, ToolSpec, Usage
from mnemocode.llm.base import complete
from mnemocode.llm.cost import cost_usd
from mnemocode.llm.factory import build_model
from mnemocode.llm.tokens import count_tokens
from mnemocode.safety.checkpoints import CheckpointConflict, CheckpointError
from mnemocode.safety.guard import GuardedToolset
from mnemocode.safety.setup import Safety, build_safety
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import builtin_tools


def project_state_dir(home: Path, cwd: Path) -> Path:
    """Where mnemo keeps its own files for a project — never inside the repository."""
    resolved = cwd.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return home / "projects" / f"{resolved.name or 'root'}-{digest}"


@dataclass(slots=True)
class App:
    settings: Settings
    agent: Agent
    guard: GuardedToolset
    model_alias: str
    home: Path
    cwd: Path
    instructions: list[InstructionFile]
    safety: Safety
    session_id: str
    env: Mapping[str, str] = field(default_factory=dict)

    async def run_turn(
        self, prompt: Message | str, emit: Callable[[AgentEvent], None]
    ) -> TurnFinished:
        """One turn; afterwards the checkpoint records what it left behind."""
        try:
            return await self.agent.run_turn(prompt, emit)
        finally:
            self.guard.end_turn(self.session_id, self.agent.turns)

    def set_mode(self, mode: str) -> None:
        """ask / auto / bypass for this session only (never written to a file)."""
        if mode not in {"ask", "auto", "bypass"}:
            raise ValueError(f"unknown mode {mode!r}")
        self.safety.policy.mode = mode  # type: ignore[assignment]

    def undo_last_turn(
        self, *, files: bool = True, conversation: bool = True, force: bool = False
    ) -> str:
        turns = sorted(self.agent.turn_starts)
        if not turns:
            return "nothing to undo"
        return self.rewind(turns[-1], files=files, conversation=conversation, force=force)

    def prune_checkpoints_in_background(self) -> threading.Thread:
        """Old checkpoints go by age and size; seconds on a big repository, so not
        on the way to the first prompt."""
        config = self.settings.safety

        def prune() -> None:
            with contextlib.suppress(MnemoError):
                self.safety.checkpoints.prune(
                    max_age_days=config.checkpoint_max_age_days,
                    max_bytes=config.checkpoint_max_mb * 1_000_000,
                    keep_sessions={self.session_id},
                )

        thread = threading.Thread(target=prune, name="mnemo-prune", daemon=True)
        thread.start()
        return thread

    def rewind(
        self, turn: int, *, files: bool = True, conversation: bool = True, force: bool = False
    ) -> str:
        """Back to before ``turn``: its file changes and later ones undone, and/or
        the conversation cut there. Says what it did."""
        if turn not in self.agent.turn_starts:
            known = ", ".join(map(str, sorted(self.agent.turn_starts))) or "none"
            return f"no turn {turn} in this conversation (turns: {known})"
        done: list[str] = []
        if files:
            try:
                changes = self.safety.checkpoints.rewind(self.session_id, turn - 1, force=force)
            except CheckpointConflict as exc:
                paths = ", ".join(str(p) for p in exc.paths[:5])
                return (
                    f"nothing undone: {paths} changed after that turn; "
                    "add `force` to overwrite (what is overwritten is kept as a version)"
                )
            except CheckpointError as exc:
                return f"nothing undone: {exc.one_line()}"
            done.append(
                f"restored {len(changes)} file(s)" if changes else "no file changes to undo"
            )
        if conversation:
            dropped = self.agent.rewind_to(turn)
            self.agent.tool_context.seen_files.clear()
            done.append(f"removed turn(s) {', '.join(map(str, dropped))} from the conversation")
        return "; ".join(done)

    @property
    def model_config(self) -> ModelConfig:
        return self.settings.models[self.model_alias]

    def tool_specs(self) -> list[ToolSpec]:
        return self.agent.toolset.specs()

    async def switch_model(self, alias: str, *, probe: bool = True) -> None:
        """Make ``alias`` the active model. Builds it and (by default) makes a
        one-token call first; on any failure the current model stays."""
        _name, config = self.settings.model(alias)
        model = build_model(alias, config, env=self.env)
        if probe:
            await probe_model(model)
        self.agent.slot = _slot(model, config)
        self.agent.context.max_output_tokens = config.max_output_tokens
        self.agent.context.temperature = config.temperature
        self.agent.tool_context.vision = config.vision
        self.model_alias = alias

    def clear(self) -> None:
        self.agent.history.clear()
        self.agent.turn_starts.clear()
        self.agent.tool_context.seen_files.clear()


async def probe_model(model: ChatModel) -> str:
    """One tiny call: proves the key, the endpoint and the model name."""
    request = ModelRequest([Message.user("Reply with the single word: ok")], max_output_tokens=5)
    response = await complete(model, request)
    return response.message.text


def _slot(model: ChatModel, config: ModelConfig) -> ModelSlot:
    def price(usage: Usage) -> float | None:
        return cost_usd(config.model, usage, config.input_price, config.output_price)

    return ModelSlot(model, config.context_window, price)


def build_app(
    settings: Settings,
    *,
    cwd: Path,
    home: Path,
    approver: Approver,
    env: Mapping[str, str],
    model_alias: str | None = None,
    model: ChatModel | None = None,
    tools: Toolset | None = None,
) -> App:
    """Wire everything. ``model`` and ``tools`` replace the configured ones (tests,
    benchmarks and one-shot presets pass them)."""
    alias, config = settings.model(model_alias)
    chat_model = model if model is not None else build_model(alias, config, env=env)
    state_dir = project_state_dir(home, cwd)
    inner = tools if tools is not None else FunctionToolset(builtin_tools())
    safety = build_safety(
        settings.safety,
        inner=inner,
        approver=approver,
        workdir=cwd.resolve(),
        user_home=Path(env.get("HOME") or Path.home()),
        mnemo_home=home,
        state_dir=state_dir,
        env=env,
    )
    session_id = uuid.uuid4().hex[:12]
    ctx = ToolContext(
        cwd=cwd.resolve(),
        sandbox=safety.sandbox,
        vision=config.vision,
        log_dir=state_dir / "logs",
        settings=settings.tools.model_dump(),
        session_id=session_id,
        http_transport=safety.http_transport,
    )
    guard = safety.guard
    instructions = find_instructions(cwd, home)
    prefix = SystemPrefix.build(ctx.cwd, instructions, settings.agent.system_prompt)
    context = ContextBuilder(prefix, config.max_output_tokens, config.temperature)
    agent = Agent(
        slot=_slot(chat_model, config),
        toolset=guard,
        tool_context=ctx,
        context=context,
        config=settings.agent,
        meter=TokenMeter(count_tokens),
    )
    return App(
        settings,
        agent,
        guard,
        alias,
        home,
        cwd.resolve(),
        instructions,
        safety,
        session_id,
        dict(env),
    )
