"""The contracts between layers: small protocols, one or two methods each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mnemocode.core.events import AgentEvent
from mnemocode.core.types import (
    MemoryHit,
    ModelRequest,
    StreamEvent,
    ToolCall,
    ToolResult,
    ToolSpec,
)


class ChatModel(Protocol):
    """A model that streams. The last event of every stream is ``ResponseDone``."""

    @property
    def name(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...


# ---- sandbox ----------------------------------------------------------------------


@dataclass(slots=True)
class CommandSpec:
    command: str
    cwd: Path
    timeout_s: float = 120.0
    env: dict[str, str] | None = None
    # After this many seconds the command keeps running in the background, its
    # output going to ``log_dir``; None means wait for it (up to the timeout).
    background_after_s: float | None = None
    log_dir: Path | None = None
    max_output_bytes: int = 1_000_000
    # Network for this one command (the user approved it, or a configured list);
    # a confining sandbox has none otherwise.
    network: bool = False
    # False: run outside the confining sandbox (a command the user approved that
    # writes outside the work directory, the user's own ``!cmd``).
    confined: bool = True


@dataclass(slots=True)
class CommandResult:
    exit_code: int | None
    output: str
    timed_out: bool = False
    backgrounded: bool = False
    log_path: Path | None = None
    pid: int | None = None
    output_truncated: bool = False


class Sandbox(Protocol):
    async def run(
        self, spec: CommandSpec, on_output: Callable[[str], None] | None = None
    ) -> CommandResult: ...


# ---- memory -----------------------------------------------------------------------


class MemoryIndex(Protocol):
    """What tools see of memory: search over summaries, project memory, past
    transcripts and the user's traits. ``sources`` limits where to look."""

    def search(
        self, query: str, *, limit: int = 10, sources: tuple[str, ...] | None = None
    ) -> list[MemoryHit]: ...


# ---- tools ------------------------------------------------------------------------


@dataclass(slots=True)
class ToolContext:
    """What a tool may use besides its arguments. One per agent session."""

    cwd: Path
    sandbox: Sandbox
    emit: Callable[[AgentEvent], None] = lambda _event: None
    # Content hashes of files the model has seen in full this session, by path,
    # so an unchanged re-read can answer with a short note.
    seen_files: dict[str, str] = field(default_factory=dict)
    vision: bool = False
    log_dir: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # The id of the tool call being run, so streaming tools can tag their output
    # (``ToolOutputDelta``). The loop sets it per call (``dataclasses.replace``).
    current_call_id: str = ""
    # Which session and turn the call belongs to (checkpoints and the audit log).
    session_id: str = ""
    turn: int = 0
    # Makes the httpx transport tools fetch through: the safety layer's, which
    # refuses private and metadata addresses on every hop and connects to the
    # address it checked. None: httpx's default.
    http_transport: Callable[[], Any] | None = None
    memory: MemoryIndex | None = None


class Toolset(Protocol):
    def specs(self) -> list[ToolSpec]: ...

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult: ...


# ---- approval ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    tool: str
    arguments: dict[str, Any]
    summary: str  # one line: what will happen
    reason: str  # why the policy asks
    preview: str | None = None  # e.g. the diff a write would make
    # What an "allow for this session" answer covers, in words.
    session_scope: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    allowed: bool
    reason: str = ""
    # "always": save a narrow rule (this exact command in this directory, or this
    # tool on this path) so the question is not asked again, in later sessions too.
    scope: Literal["once", "session", "always"] = "once"
    by: str = "user"
    # With "always" on an MCP tool: the rule covers every tool of its server.
    wide: bool = False


class Approver(Protocol):
    async def approve(self, request: ApprovalRequest) -> ApprovalDecision: ...
