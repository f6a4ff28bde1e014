"""``build_app``: the one place that turns Settings into working objects.

Front ends call this and then talk to ``App``; nothing else reads Settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mnemocode.agent.budget import TokenMeter, memory_caps
from mnemocode.agent.codemap.session import (
    CACHE_FILE,
    SessionMap,
    first_request_budget,
    first_request_section,
)
from mnemocode.agent.codemap.tool import TOOL_NAME as CODE_MAP_TOOL
from mnemocode.agent.codemap.tool import code_map_tool
from mnemocode.agent.compaction import Compactor
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.instructions import InstructionFile, find_instructions
from mnemocode.agent.loop import Agent, ModelSlot
from mnemocode.agent.router import Router, build_ladder
from mnemocode.config.paths import find_project_root
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.errors import MnemoError
from mnemocode.core.events import AgentEvent, Notice, TurnFinished
from mnemocode.core.protocols import Approver, ChatModel, ToolContext, Toolset
from mnemocode.core.types import Message, ModelRequest, ToolSpec, Usage
from mnemocode.llm.base import complete
from mnemocode.llm.cost import CostTracker, cost_usd
from mnemocode.llm.factory import build_model
from mnemocode.llm.tokens import count_tokens
from mnemocode.llm.window import start_window_probe
from mnemocode.memory.db import transaction
from mnemocode.memory.projects import Project, ProjectRegistry, default_slug
from mnemocode.memory.service import Memory, open_registry
from mnemocode.safety.checkpoints import CheckpointConflict, CheckpointError
from mnemocode.safety.guard import GuardedToolset
from mnemocode.safety.setup import Safety, build_safety
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import SMALL_WINDOW, patch_tools, tools_for_window

if TYPE_CHECKING:
    from mnemocode.memory.background import BackgroundJobs
    from mnemocode.memory.worker import JobsReport


def project_state_dir(home: Path, cwd: Path) -> Path:
    """Where mnemo keeps its own files for the project of ``cwd`` (registered or
    not) — never inside the repository."""
    registry = open_registry(home)
    try:
        project = registry.for_directory(cwd)
    finally:
        registry.conn.close()
    if project is not None:
        return project.data_dir(home)
    return home / "projects" / default_slug(cwd)


def resolve_project(
    registry: ProjectRegistry, cwd: Path, name: str | None, env: Mapping[str, str]
) -> Project:
    """``--project NAME`` (created for ``cwd`` when new), else the project whose
    work directory contains ``cwd`` (the deepest), else a new one for the
    repository root (or ``cwd``)."""
    if name:
        with transaction(registry.conn):  # two terminals creating it together
            found = registry.get(name)
            if found is None:
                return registry.create(cwd, name)
        registry.touch(found.name)
        return found
    return registry.resolve(cwd, root=find_project_root(cwd, env=env) or cwd)


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
    project: Project | None = None
    memory: Memory | None = None
    # Stored messages of this session that precede ``agent.history[0]`` (compacted).
    history_offset: int = 0
    extracted_upto: int = 0
    session_stored: bool = False
    # The memory work running behind the user (``start_memory_work``), and where
    # its one line goes when it ends (the front end sets it).
    memory_jobs: BackgroundJobs | None = None
    report_memory: Callable[[str], None] = field(default=lambda _line: None)
    # Things to tell the user at start (e.g. MEMORY.md edits picked up).
    notices: list[str] = field(default_factory=list)
    # Built-in tools not offered because the model's context window is small.
    left_out_tools: list[str] = field(default_factory=list)
    # The ranked code map of the work directory (None: [codemap] tokens = 0), and
    # its section in the system prefix, made at the session's first request.
    code_map: SessionMap | None = None
    first_map: str | None = None
    # Picks the strategy of each turn and escalates (``agent/router.py``).
    router: Router | None = None

    async def run_turn(
        self, prompt: Message | str, emit: Callable[[AgentEvent], None]
    ) -> TurnFinished:
        """One turn; afterwards the checkpoint records what it left behind.

        The transcript is written behind the agent; it is flushed before the turn
        is reported finished (and however the turn ends), so a finished turn is on
        disk and visible to every other connection and process."""

        def emit_durably(event: AgentEvent) -> None:
            if isinstance(event, TurnFinished) and self.memory is not None:
                self.memory.flush()
            emit(event)

        await self._map_first_request(prompt, emit)
        run = self.router.run_turn if self.router is not None else self.agent.run_turn
        try:
            return await run(prompt, emit_durably)
        finally:
            if self.memory is not None:
                self.memory.flush()
            self.guard.end_turn(self.session_id, self.agent.turns)
            self._extract_during_long_session()

    # ---- memory and sessions -------------------------------------------------

    async def _map_first_request(
        self, prompt: Message | str, emit: Callable[[AgentEvent], None]
    ) -> None:
        """Once a session: a large repository's map, focused on the first task, joins
        the system prefix (and stays, byte for byte, so prompt caches hit)."""
        if self.code_map is None or self.first_map is not None:
            return
        self.first_map = ""
        config = self.settings.codemap
        tokens = first_request_budget(config.first_request_tokens, self.agent.slot.context_window)
        if tokens == 0:
            return
        task = prompt if isinstance(prompt, str) else prompt.text
        offered = any(s.name == CODE_MAP_TOOL for s in self.tool_specs())
        root, min_files = self.code_map.root, config.first_request_min_files
        try:
            self.first_map = await asyncio.wait_for(
                self.code_map.run(
                    lambda cm: first_request_section(
                        cm, root, task, tokens=tokens, min_files=min_files, tool=offered
                    )
                ),
                timeout=config.first_request_wait_s,
            )
        except TimeoutError:  # the user is not kept waiting for a first build
            emit(
                Notice(
                    "info",
                    "The code map is still being built: the first request goes without it "
                    "(code_map and /map will use it once it is ready).",
                )
            )
            self.first_map = ""
            return
        except Exception as exc:  # the map is an extra: the turn goes on without it
            emit(Notice("warning", f"no code map in this request: {exc}"))
            return
        if self.first_map:
            self.agent.context.prefix = self._system_prefix()

    def _system_prefix(self) -> SystemPrefix:
        return SystemPrefix.build(
            self.cwd, self.instructions, self.settings.agent.system_prompt,
            memory=self.memory.prefix_text() if self.memory else "",
            tool_names={s.name for s in self.tool_specs()}, code_map=self.first_map or "",
        )  # fmt: skip

    def _record(self, turn: int, message: Message) -> None:
        if self.memory is None:
            return
        if not self.session_stored:
            self.memory.sessions.create(self.session_id, model=self.model_config.model)
            self.session_stored = True
        self.memory.record_later(self.session_id, turn, message)

    def _compacted(self, removed: int, summary: str) -> None:
        self.history_offset += removed
        if self.memory is not None:
            self.memory.flush()
            self.memory.sessions.record_compaction(self.session_id, self.history_offset, summary)

    def _extract_during_long_session(self) -> None:
        every = self.settings.memory.extract_every_turns
        if self.memory is None or not every or self.agent.turns % every:
            return
        self.memory.flush()
        stored = self.memory.sessions.count(self.session_id)
        self.memory.queue_extraction(self.session_id, self.extracted_upto)
        self.extracted_upto = stored
        self.start_memory_work()

    def memory_model(self) -> ChatModel:
        """The model that summarises and extracts: ``[memory] model`` or the active one."""
        alias = self.settings.memory.model
        if alias and alias != self.model_alias:
            _name, config = self.settings.model(alias)
            return build_model(alias, config, env=self.env)
        return self.agent.slot.model

    def queue_session_end(self) -> bool:
        """Mark this session ended and queue its memory work (durably); nothing
        runs yet. False when there was nothing to save."""
        return self.memory is not None and self.memory.end_session(self.session_id)

    def start_memory_work(self) -> int:
        """Hand the queued memory work to the background worker (a task of the
        running event loop: nothing waits for it); returns how many jobs are queued.
        When it ends, the memory part of the prompt is rebuilt and one line goes
        to ``report_memory``."""
        if self.memory is None:
            return 0
        if self.memory_jobs is None:
            from mnemocode.memory.background import BackgroundJobs

            self.memory_jobs = BackgroundJobs(self.memory, self.memory_model, self._memory_done)
        return self.memory_jobs.start()

    def _memory_done(self, report: JobsReport) -> None:
        if report.done:
            self.refresh_memory()
        self.report_memory(report.line())

    async def stop_memory_work(self) -> None:
        """Stop the background worker; the job it was doing goes back to the queue."""
        if self.memory_jobs is not None:
            await self.memory_jobs.stop()

    async def end_session(self, progress: Callable[[str], None] = lambda _m: None) -> bool:
        """Save this session to memory now, waiting for the model: summary and
        extraction (queued first, so an interrupted save is finished later)."""
        await self.stop_memory_work()
        if not self.queue_session_end():
            return False
        await self.run_memory_jobs(progress)
        return True

    async def run_memory_jobs(self, progress: Callable[[str], None] = lambda _m: None) -> int:
        """Run the queued memory work now, waiting for it; returns how many jobs finished."""
        if self.memory is None or not self.memory.pending_jobs():
            return 0
        report = await self.memory.run_jobs(self.memory_model(), progress)
        self.refresh_memory()
        return report.done

    def refresh_memory(self) -> None:
        """Rebuild the memory part of the prompt (after the user changed memory)."""
        if self.memory is None:
            return
        if self.settings.memory.mirror and self.project is not None:
            report = self.memory.sync_mirror(self.project.workdir)
            if report.user_edits or report.problem:
                self.notices.append(report.describe())
        self.agent.context.prefix = self._system_prefix()
        self.agent.context.recent = self.memory.recent_section(exclude_session=self.session_id).text

    def new_session(self) -> str:
        """Start a fresh conversation; the old one is queued for saving to memory."""
        if self.memory is not None:
            self.memory.end_session(self.session_id)
        self.session_id = uuid.uuid4().hex[:12]
        self.agent.tool_context.session_id = self.session_id
        self.agent.history.clear()
        self.agent.turn_starts.clear()
        self.agent.tool_context.seen_files.clear()
        self.agent.context.summary = ""
        self.agent.turns = 0
        self.agent.totals = CostTracker()  # /cost and the status line: this session's
        if self.router is not None:
            self.router.reset_session()
        self.history_offset = self.extracted_upto = 0
        self.session_stored = False
        self.first_map = None
        self.refresh_memory()
        return self.session_id

    def resume(self, session_id: str) -> int:
        """Continue a stored session: its compaction summary and the messages after
        it become the live history. Returns the number of messages loaded."""
        if self.memory is None:
            raise MnemoError("memory is turned off ([memory] enabled = false)")
        self.memory.flush()
        info = self.memory.sessions.get(session_id)
        if info is None:
            raise MnemoError(f"no session {session_id!r} in project {self.project_name}")
        summary, messages = self.memory.sessions.live_history(session_id)
        self.session_id = session_id
        self.agent.tool_context.session_id = session_id
        self.agent.history[:] = messages
        self.agent.context.summary = summary or ""
        self.agent.turns = info.turns
        self.agent.turn_starts = self.memory.sessions.live_turn_starts(session_id)
        self.agent.tool_context.seen_files.clear()
        self.history_offset = self.memory.sessions.count(session_id) - len(messages)
        self.extracted_upto = self.history_offset
        self.memory.sessions.reopen(session_id)
        self.session_stored = True
        self.refresh_memory()
        return len(messages)

    @property
    def project_name(self) -> str:
        return self.project.name if self.project else self.cwd.name

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
            if self.memory is not None:
                self.memory.flush()
                keep = self.history_offset + self.agent.turn_starts[turn]
                self.memory.sessions.truncate(self.session_id, keep)
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
        """Forget the conversation: a new session starts (the old one is saved)."""
        self.new_session()


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
    project: str | None = None,
) -> App:
    """Wire everything. ``model`` and ``tools`` replace the configured ones (tests,
    benchmarks and one-shot presets pass them)."""
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
    memory = None
    notices: list[str] = []
    if settings.memory.enabled:
        memory = Memory(
            home=home, project=chosen, config=settings.memory, count_tokens=count_tokens
        )
        if settings.memory.mirror:
            report = memory.sync_mirror(chosen.workdir)
            if report.user_edits or report.problem:
                notices.append(report.describe())
    found = window_probe.result() if window_probe is not None else None
    if found is not None:
        config = settings.models[alias] = config.model_copy(update={"context_window": found.tokens})
        notices.append(f"context window: {found.tokens} tokens ({found.source})")
    small_tools, left_out_tools = tools_for_window(config.context_window)
    small_tools += patch_tools(settings.tools.apply_patch, config.model)
    code_map = _code_map(settings, workdir, state_dir)
    if code_map is not None and config.context_window > SMALL_WINDOW:
        small_tools.append(code_map_tool(code_map))
    elif code_map is not None:
        left_out_tools.append(CODE_MAP_TOOL)
    inner = tools if tools is not None else FunctionToolset(small_tools)
    if memory is not None:
        recent_cap, prefix_cap = memory_caps(
            config.context_window, memory.config.recent_tokens, memory.config.prefix_tokens
        )
        memory.config = memory.config.model_copy(
            update={"recent_tokens": recent_cap, "prefix_tokens": prefix_cap}
        )
    safety = build_safety(
        settings.safety,
        inner=inner,
        approver=approver,
        workdir=workdir,
        user_home=Path(env.get("HOME") or Path.home()),
        mnemo_home=home,
        state_dir=state_dir,
        env=env,
    )
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
    )
    context = ContextBuilder(prefix, config.max_output_tokens, config.temperature)
    if memory is not None:
        context.recent = memory.recent_section().text
    agent = Agent(
        slot=_slot(chat_model, config),
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
    )
    if memory is not None:
        agent.recorder = app._record
        agent.compactor = Compactor(
            _summarizer(app),
            threshold=settings.memory.compact_at,
            keep_recent_turns=settings.memory.keep_recent_turns,
            on_compacted=app._compacted,
        )
    return app


def _code_map(settings: Settings, workdir: Path, state_dir: Path) -> SessionMap | None:
    """The session's code map, its build started (nothing waits for it); its tag
    cache is the project's, so it outlives the session."""
    config = settings.codemap
    if config.tokens == 0:
        return None
    code_map = SessionMap(
        workdir, cache_path=state_dir / CACHE_FILE, tokens=config.tokens,
        max_file_bytes=config.max_file_bytes,
    )  # fmt: skip
    code_map.start()
    return code_map


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
