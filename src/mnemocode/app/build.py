"""``build_app``: the one place that turns Settings into working objects.

Front ends call this and then talk to ``App``; nothing else reads Settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mnemocode.agent.budget import TokenMeter, memory_caps
from mnemocode.agent.codemap.session import open_session_map
from mnemocode.agent.codemap.tool import TOOL_NAME as CODE_MAP_TOOL
from mnemocode.agent.codemap.tool import code_map_tool
from mnemocode.agent.compaction import Compactor
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.instructions import find_instructions
from mnemocode.agent.loop import Agent
from mnemocode.agent.router import build_ladder
from mnemocode.app.models import model_slot
from mnemocode.app.projects import resolve_project
from mnemocode.app.session import App
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.events import AgentEvent
from mnemocode.core.protocols import Approver, ChatModel, ToolContext, Toolset
from mnemocode.core.types import Message
from mnemocode.extensions.mcp.setup import open_mcp
from mnemocode.llm.factory import build_model
from mnemocode.llm.tokens import count_tokens
from mnemocode.llm.window import start_window_probe
from mnemocode.memory.service import Memory, open_registry
from mnemocode.safety.setup import Safety, build_safety
from mnemocode.tools.base import CombinedToolset, FunctionToolset
from mnemocode.tools.builtin import SMALL_WINDOW, patch_tools, tools_for_window

if TYPE_CHECKING:
    from mnemocode.agent.codemap.session import SessionMap
    from mnemocode.agent.loop import ModelSlot
    from mnemocode.app.subagents import SubagentRunner
    from mnemocode.extensions.mcp.toolset import McpToolset
    from mnemocode.extensions.skills.activation import SkillSession
    from mnemocode.extensions.tools.toolset import CustomToolset
    from mnemocode.memory.projects import Project
    from mnemocode.tools.base import Tool


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
    project: str | None = None,
    trusted_folder: bool = False,
) -> App:
    """Wire everything. ``model`` and ``tools`` replace the configured ones (tests,
    benchmarks and one-shot presets pass them; ``tools`` leaves MCP servers out).
    ``trusted_folder``: the project's ``.mcp.json`` servers may start."""
    alias, config = settings.model(model_alias)
    chat_model = model if model is not None else build_model(alias, config, env=env)
    # The server's context window, asked while the rest starts (≤ ~1 s).
    window_probe = start_window_probe(alias, config, env) if model is None else None
    registry = open_registry(home)
    try:
        chosen = resolve_project(registry, cwd, project, env)
    finally:
        registry.conn.close()
    workdir = chosen.workdir if project else cwd.resolve()
    state_dir = chosen.data_dir(home)
    notices: list[str] = []
    memory = _open_memory(settings, home, chosen, notices)
    found = window_probe.result() if window_probe is not None else None
    if found is not None:
        config = settings.models[alias] = config.model_copy(update={"context_window": found.tokens})
        notices.append(f"context window: {found.tokens} tokens ({found.source})")
    code_map = open_session_map(settings.codemap, workdir, state_dir)
    small_tools, left_out_tools = _builtin_tools(settings, config, code_map)
    # Configured MCP servers join the built-ins inside the guard (not with ``tools``).
    inner, mcp = _with_mcp(
        tools if tools is not None else FunctionToolset(small_tools),
        settings,
        offered=tools is None,
        workdir=workdir,
        home=home,
        state_dir=state_dir,
        env=env,
        trusted=trusted_folder,
        notices=notices,
    )
    if memory is not None:
        _fit_memory(memory, config.context_window)
    safety = build_safety(
        settings.safety,
        inner=inner,
        approver=approver,
        workdir=workdir,
        user_home=Path(env.get("HOME") or Path.home()),
        mnemo_home=home,
        state_dir=state_dir,
        env=env,
        read_only_hint=mcp.read_only_hint if mcp is not None else None,
    )
    # Skills (their ``skill`` tool, allowed-tools) come with the configured tools only.
    # A small window gets neither the skills' listing and tool (``/name`` still works)
    # nor sub-agents: their schemas and listing would take a tenth of a 4k window.
    roomy = config.context_window > SMALL_WINDOW
    skills = _join_skills(settings, safety, offered=tools is None, workdir=workdir, home=home,
                          env=env, trusted=trusted_folder, for_model=roomy)  # fmt: skip
    custom_tools = _join_custom_tools(safety, offered=tools is None, workdir=workdir, home=home,
                                      env=env, trusted=trusted_folder, notices=notices)  # fmt: skip
    subagents = _join_agents(settings, safety, offered=tools is None and roomy,
                             workdir=workdir, home=home, env=env, trusted=trusted_folder,
                             notices=notices, skills=skills)  # fmt: skip
    if safety.sandbox.fallback_note and settings.safety.mode != "bypass":
        notices.append(safety.sandbox.fallback_note)
    session_id = uuid.uuid4().hex[:12]
    ctx = ToolContext(
        cwd=workdir,
        sandbox=safety.sandbox,
        vision=config.vision,
        log_dir=state_dir / "logs",
        settings=settings.tools.model_dump(),
        session_id=session_id,
        http_transport=safety.http_transport,
        memory=memory,
    )
    instructions = find_instructions(workdir, home)
    prefix = SystemPrefix.build(
        ctx.cwd,
        instructions,
        settings.agent.system_prompt,
        memory=memory.prefix_text() if memory else "",
        tool_names={spec.name for spec in safety.guard.specs()},
        skills=_skills_section(skills, notices) if roomy else _skills_notices(skills, notices),
    )
    if custom_tools is not None:
        notices += [f"custom tool not loaded: {p}" for p in custom_tools.take_problems()]
    context = ContextBuilder(prefix, config.max_output_tokens, config.temperature)
    if memory is not None:
        context.recent = memory.recent_section().text
    agent = Agent(
        slot=model_slot(chat_model, config),
        toolset=safety.guard,
        tool_context=ctx,
        context=context,
        config=settings.agent,
        meter=TokenMeter(count_tokens),
    )
    app = App(
        settings,
        agent,
        safety.guard,
        alias,
        home,
        workdir,
        instructions,
        safety,
        session_id,
        dict(env),
        project=chosen,
        memory=memory,
        notices=notices,
        left_out_tools=[] if tools is not None else left_out_tools,
        router=build_ladder(agent, settings, safety.checkpoints, code_map),
        code_map=code_map,
        mcp=mcp,
        skills=skills,
        custom_tools=custom_tools,
        agents=subagents.catalog if subagents is not None else None,
    )
    if subagents is not None:
        subagents.parent = agent
        subagents.hooks = lambda: app.hooks
    if memory is not None:
        agent.recorder = app._record
        agent.compactor = Compactor(
            _summarizer(app),
            threshold=settings.memory.compact_at,
            keep_recent_turns=settings.memory.keep_recent_turns,
            on_compacted=app._compacted,
        )
    _add_hooks(app, trusted=trusted_folder)
    return app


def _open_memory(
    settings: Settings, home: Path, project: Project, notices: list[str]
) -> Memory | None:
    """The project's memory (None when off); edits of its MEMORY.md merged in first."""
    if not settings.memory.enabled:
        return None
    memory = Memory(home=home, project=project, config=settings.memory, count_tokens=count_tokens)
    if settings.memory.mirror:
        report = memory.sync_mirror(project.workdir)
        if report.user_edits or report.problem:
            notices.append(report.describe())
    return memory


def _fit_memory(memory: Memory, window: int) -> None:
    """What memory injects, scaled to the model's context window."""
    recent_cap, prefix_cap = memory_caps(
        window, memory.config.recent_tokens, memory.config.prefix_tokens
    )
    memory.config = memory.config.model_copy(
        update={"recent_tokens": recent_cap, "prefix_tokens": prefix_cap}
    )


def _builtin_tools(
    settings: Settings, config: ModelConfig, code_map: SessionMap | None
) -> tuple[list[Tool], list[str]]:
    """The built-in tools for this model's window, and the names left out for it."""
    tools, left_out = tools_for_window(config.context_window)
    tools += patch_tools(settings.tools.apply_patch, config.model)
    if code_map is not None and config.context_window > SMALL_WINDOW:
        tools.append(code_map_tool(code_map))
    elif code_map is not None:
        left_out.append(CODE_MAP_TOOL)
    if config.context_window <= SMALL_WINDOW:  # build_app leaves these out too
        wanted = (("skill", settings.skills.enabled), ("task", settings.agents.enabled))
        left_out += [name for name, enabled in wanted if enabled]
    return tools, left_out


def _with_mcp(
    inner: Toolset,
    settings: Settings,
    *,
    offered: bool,
    workdir: Path,
    home: Path,
    state_dir: Path,
    env: Mapping[str, str],
    trusted: bool,
    notices: list[str],
) -> tuple[Toolset, McpToolset | None]:
    """``inner`` with the configured MCP servers' tools (when ``offered``)."""
    if not offered:
        return inner, None
    mcp = open_mcp(
        settings.mcp,
        workdir=workdir,
        mnemo_home=home,
        state_dir=state_dir,
        env=env,
        trusted=trusted,
        notices=notices,
    )
    return (CombinedToolset([inner, mcp]), mcp) if mcp is not None else (inner, None)


def _join_skills(
    settings: Settings,
    safety: Safety,
    *,
    offered: bool,
    workdir: Path,
    home: Path,
    env: Mapping[str, str],
    trusted: bool,
    for_model: bool = True,
) -> SkillSession | None:
    """The session's skills: the ``skill`` tool inside the guard (``for_model``), and
    the policy that lets an active skill's ``allowed-tools`` skip a question."""
    if not offered or not settings.skills.enabled:
        return None
    from mnemocode.extensions.skills.approval import SkillPolicy
    from mnemocode.extensions.skills.setup import open_skills
    from mnemocode.extensions.skills.tool import skill_tool

    skills = open_skills(
        settings.skills,
        workdir=workdir,
        mnemo_home=home,
        user_home=Path(env.get("HOME") or Path.home()),
        env=env,
        trusted=trusted,
    )
    guard = safety.guard
    if for_model:
        guard.inner = CombinedToolset([guard.inner, FunctionToolset([skill_tool(skills)])])
    guard.policy = SkillPolicy(guard.policy, skills)
    return skills


def _join_custom_tools(
    safety: Safety,
    *,
    offered: bool,
    workdir: Path,
    home: Path,
    env: Mapping[str, str],
    trusted: bool,
    notices: list[str],
) -> CustomToolset | None:
    """Custom tools after the built-ins inside the guard (a built-in's name wins),
    imported in the background from here; read-only ones decided as ``file_read``."""
    if not offered:
        return None
    from mnemocode.config.paths import find_project_root
    from mnemocode.extensions.tools.approval import CustomToolPolicy
    from mnemocode.extensions.tools.setup import open_custom_tools

    custom = open_custom_tools(
        mnemo_home=home,
        user_home=Path(env.get("HOME") or Path.home()),
        project_root=find_project_root(workdir, env=env),
        trusted=trusted,
        notices=notices,
    )
    custom.start_loading()
    guard = safety.guard
    guard.inner = CombinedToolset([guard.inner, custom])
    guard.policy = CustomToolPolicy(guard.policy, custom)
    return custom


def _join_agents(
    settings: Settings,
    safety: Safety,
    *,
    offered: bool,
    workdir: Path,
    home: Path,
    env: Mapping[str, str],
    trusted: bool,
    notices: list[str],
    skills: SkillSession | None,
) -> SubagentRunner | None:
    """The ``task`` tool inside the guard, over every tool joined so far; the agents
    are read the first time the tool's description is asked for."""
    if not offered or not settings.agents.enabled:
        return None
    from mnemocode.app.subagents import SubagentRunner
    from mnemocode.extensions.agents.approval import TaskPolicy
    from mnemocode.extensions.agents.setup import open_agents
    from mnemocode.extensions.agents.tool import TaskToolset

    def slot_for(alias: str) -> ModelSlot:
        _, config = settings.model(alias)
        return model_slot(build_model(alias, config, env=env), config)

    catalog = open_agents(
        workdir=workdir,
        mnemo_home=home,
        user_home=Path(env.get("HOME") or Path.home()),
        env=env,
        trusted=trusted,
        notices=notices,
    )
    guard = safety.guard
    runner = SubagentRunner(guard, catalog, slot_for, skill_text=_skill_text(skills))
    guard.inner = CombinedToolset([guard.inner, TaskToolset(catalog, runner, guard.specs)])
    guard.policy = TaskPolicy(guard.policy)
    return runner


def _skill_text(skills: SkillSession | None) -> Callable[[str], str | None]:
    """A skill's instructions as a sub-agent preloads them (its ``skills`` field)."""

    def text(name: str) -> str | None:
        from mnemocode.extensions.skills.activation import render

        skill = skills.catalog.get(name) if skills is not None else None
        return render(skill, "") if skill is not None else None

    return text


def _skills_notices(skills: SkillSession | None, notices: list[str]) -> str:
    """No listing (a small window), but broken or untrusted skills are still said."""
    if skills is not None:
        from mnemocode.extensions.skills.setup import discovery_notices

        notices.extend(skills.notices + discovery_notices(skills))
    return ""


def _skills_section(skills: SkillSession | None, notices: list[str]) -> str:
    """The skills' listing for the system prompt; discovery happens here, once."""
    if skills is None:
        return ""
    from mnemocode.extensions.skills.prompt import skills_listing
    from mnemocode.extensions.skills.setup import discovery_notices

    notices.extend(skills.notices + discovery_notices(skills))
    return skills_listing(skills.catalog.skills().values(), skills.prompt_tokens, count_tokens)


def _add_hooks(app: App, *, trusted: bool) -> None:
    """Hooks around tool calls (the guard), at the end of an answer (the loop),
    before a summary, and at a turn's and a session's start and end (``App``).
    A project's hooks only in a trusted folder; presets and tests get them too."""
    from mnemocode.extensions.hooks.setup import open_hooks

    hooks = open_hooks(
        app.settings.hooks, workdir=app.cwd, env=app.env, trusted=trusted, notices=app.notices
    )
    if hooks is None:
        return
    hooks.mode_of = lambda: app.safety.policy.mode
    app.hooks = app.guard.hooks = hooks
    app.agent.stop_check = hooks.stop_check
    if app.agent.compactor is not None:

        async def before_summary(trigger: str, emit: Callable[[AgentEvent], None]) -> None:
            await hooks.pre_compact(app.session_id, trigger, emit)

        app.agent.compactor.before_summary = before_summary


def _summarizer(app: App) -> Callable[[list[Message], str], Awaitable[str]]:
    async def summarize(messages: list[Message], previous: str) -> str:
        from mnemocode.memory.compaction import render_summary, summarize

        keep = app.memory.pinned_items() if app.memory else []
        # The summary request must fit the (possibly small, local) model: about four
        # characters a token, within the compaction threshold.
        window = app.model_config.context_window
        budget = max(4_000, int(window * 4 * app.settings.memory.compact_at))
        summary = await summarize(
            app.memory_model(), messages, previous=previous, keep=keep, max_input_chars=budget
        )
        return render_summary(summary)

    return summarize
