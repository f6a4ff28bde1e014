"""``App``: what a front end talks to: one session's agent, memory, safety and router."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mnemocode.agent.codemap.session import SessionMap, first_request_map
from mnemocode.agent.codemap.tool import TOOL_NAME as CODE_MAP_TOOL
from mnemocode.agent.context import SystemPrefix
from mnemocode.agent.instructions import InstructionFile
from mnemocode.agent.loop import Agent
from mnemocode.agent.router import Router
from mnemocode.app.models import model_slot, probe_model
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.errors import MnemoError
from mnemocode.core.events import AgentEvent, Notice, TurnFinished
from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import Message, ToolSpec, Usage
from mnemocode.llm.cost import CostTracker
from mnemocode.llm.factory import build_model
from mnemocode.memory.projects import Project
from mnemocode.memory.service import Memory
from mnemocode.safety.checkpoints import CheckpointConflict, CheckpointError
from mnemocode.safety.guard import GuardedToolset
from mnemocode.safety.setup import Safety

if TYPE_CHECKING:
    from mnemocode.extensions.agents.discovery import AgentCatalog
    from mnemocode.extensions.hooks.service import Hooks
    from mnemocode.extensions.mcp.toolset import McpToolset
    from mnemocode.extensions.skills.activation import SkillSession
    from mnemocode.extensions.tools.toolset import CustomToolset
    from mnemocode.memory.background import BackgroundJobs
    from mnemocode.memory.worker import JobsReport


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
    # The MCP servers' tools (inside ``guard``); None: no server configured.
    mcp: McpToolset | None = None
    # The session's skills (``extensions/skills``); None: none offered.
    skills: SkillSession | None = None
    # Agent definitions the ``task`` tool offers (``extensions/agents``); None: off.
    agents: AgentCatalog | None = None
    # Custom tools (``extensions/tools``, inside ``guard``); None: not offered.
    custom_tools: CustomToolset | None = None
    _mcp_start: asyncio.Future[list[str]] | None = None
    _mcp_said: bool = False
    # Commands run on session events (``extensions/hooks``); None: none configured.
    hooks: Hooks | None = None

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

        await self.start_mcp(emit)
        if self.hooks is not None:
            opening = await self.hooks.open_turn(prompt, self.session_id, emit)
            if opening.refused is not None:
                return _refused(opening.refused, emit)
            prompt = opening.prompt
        await self._map_first_request(prompt, emit)
        run = self.router.run_turn if self.router is not None else self.agent.run_turn
        try:
            return await run(prompt, emit_durably)
        finally:
            if self.memory is not None:
                self.memory.flush()
            self.guard.end_turn(self.session_id, self.agent.turns)
            self._extract_during_long_session()

    # ---- MCP servers -----------------------------------------------------------

    def begin_mcp(self) -> None:
        """Start the MCP servers behind the user (the REPL, before the first prompt)."""
        if self.mcp is not None and self._mcp_start is None:
            self._mcp_start = asyncio.ensure_future(self.mcp.start())

    async def start_mcp(self, emit: Callable[[AgentEvent], None]) -> None:
        """The servers up (or failed) before the first request; failures said once."""
        if self.mcp is None:
            return
        self.begin_mcp()
        assert self._mcp_start is not None
        lines = await asyncio.shield(self._mcp_start)
        if not self._mcp_said:
            self._mcp_said = True
            for line in lines:
                emit(Notice("warning", line, topic="mcp"))

    async def close(self) -> None:
        """The session ends: its SessionEnd hooks run, then every MCP server stops
        (a stdio server's whole process group). Front ends call it at exit."""
        if self.hooks is not None:
            await self.hooks.end(self.session_id, "exit")
        if self.mcp is not None:
            await self.mcp.aclose()

    async def _map_first_request(
        self, prompt: Message | str, emit: Callable[[AgentEvent], None]
    ) -> None:
        """Once a session: a large repository's map, focused on the first task, joins
        the system prefix (and stays, byte for byte, so prompt caches hit)."""
        if self.code_map is None or self.first_map is not None:
            return
        self.first_map = ""
        self.first_map = await first_request_map(
            self.code_map, self.settings.codemap,
            prompt if isinstance(prompt, str) else prompt.text,
            window=self.agent.slot.context_window,
            tool=any(s.name == CODE_MAP_TOOL for s in self.tool_specs()), emit=emit,
        )  # fmt: skip
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
        if self.hooks is not None:
            self.hooks.restart("clear", left=self.session_id)
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
        if self.hooks is not None:
            self.hooks.restart("resume", left=self.session_id)
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
        self.agent.slot = model_slot(model, config)
        self.agent.context.max_output_tokens = config.max_output_tokens
        self.agent.context.temperature = config.temperature
        self.agent.tool_context.vision = config.vision
        self.model_alias = alias

    def clear(self) -> None:
        """Forget the conversation: a new session starts (the old one is saved)."""
        self.new_session()


def _refused(reason: str, emit: Callable[[AgentEvent], None]) -> TurnFinished:
    """A prompt a UserPromptSubmit hook refused: it never reaches the model."""
    emit(Notice("warning", reason, topic="hooks"))
    finished = TurnFinished(reason, "blocked", Usage(), None, 0)
    emit(finished)
    return finished
