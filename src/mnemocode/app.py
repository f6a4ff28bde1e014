"""``build_app``: the one place that turns Settings into working objects.

Front ends call this and then talk to ``App``; nothing else reads Settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.instructions import InstructionFile, find_instructions
from mnemocode.agent.loop import Agent, ModelSlot
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.protocols import Approver, ChatModel, ToolContext, Toolset
from mnemocode.core.types import Message, ModelRequest, ToolSpec, Usage
from mnemocode.llm.base import complete
from mnemocode.llm.cost import cost_usd
from mnemocode.llm.factory import build_model
from mnemocode.llm.tokens import count_tokens
from mnemocode.safety.guard import GuardedToolset, Policy
from mnemocode.safety.previews import default_previewers
from mnemocode.safety.sandbox import LocalSandbox
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
    env: Mapping[str, str] = field(default_factory=dict)

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
    sandbox = LocalSandbox()
    tool_settings = settings.tools.model_dump()
    ctx = ToolContext(
        cwd=cwd.resolve(),
        sandbox=sandbox,
        vision=config.vision,
        log_dir=state_dir / "logs",
        settings=tool_settings,
    )
    inner = tools if tools is not None else FunctionToolset(builtin_tools())
    guard = GuardedToolset(
        inner, approver, Policy(settings.safety.mode), previewers=default_previewers()
    )
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
    return App(settings, agent, guard, alias, home, cwd.resolve(), instructions, dict(env))
