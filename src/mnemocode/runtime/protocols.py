"""The runtime's contracts. The same agents run in one process, on one machine
with several terminals, or across machines, by choosing a backend in config.

Three primitives are backend-specific (``EventBus``, ``StateStore``, ``TaskQueue``:
asyncio, SQLite, Redis, NATS JetStream); the other five are built on them once
(``AgentRegistry``, ``SessionStore``, ``ToolHost``) or adapt something that already
exists (``KnowledgeBase`` over memory, ``SandboxAdapter`` over the sandboxes).

Subjects and keys: dot-separated tokens for subjects (``session.<id>.events``),
with ``*`` (one token) and ``>`` (the rest) in subscriptions, as in NATS. Keys are
any non-empty string (``:``, ``/``, spaces, unicode); a backend that restricts
characters encodes them, and hands them back decoded.

Values are JSON-able dicts (``Json``). Positions (``seq``) and revisions only grow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mnemocode.core.errors import MnemoError

Json = dict[str, Any]


class BackendError(MnemoError):
    """A runtime backend failed (unreachable server, protocol error)."""


class ConflictError(BackendError):
    """A compare-and-set lost: the key's revision was not the one expected."""

    def __init__(self, key: str, expected: int, actual: int | None) -> None:
        self.key, self.expected, self.actual = key, expected, actual
        super().__init__(
            f"{key!r} is at revision {actual if actual is not None else 'none'}, not {expected}"
        )


# ---- events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    subject: str
    data: Json
    seq: int  # position in the bus (replay from here); grows across all subjects
    time: float  # unix time of publication


class Delivery(Protocol):
    """One event handed to a subscriber. Ack when done; nack to have it delivered
    again (after ``delay`` seconds); neither within the subscription's ``ack_wait``
    and it is delivered again anyway (at-least-once)."""

    @property
    def event(self) -> Event: ...

    @property
    def attempt(self) -> int: ...  # 1 on first delivery

    async def ack(self) -> None: ...

    async def nack(self, delay: float = 0.0) -> None: ...


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Delivery]: ...

    async def close(self) -> None: ...


class EventBus(Protocol):
    """Publish to a subject; subscribe to a pattern.

    - Without ``group``: this subscriber sees every matching event (from ``start``,
      a ``seq``, or only new ones when None).
    - With ``group``: each matching event goes to one member of the group, and to
      every group; a group's position is durable (a member that comes back resumes).
    - Per-subject order is preserved for a single consumer; retention is bounded
      (``max_events`` of the backend), so ``start`` older than what is retained
      starts at the oldest retained event.
    """

    async def publish(self, subject: str, data: Json) -> int: ...  # returns seq

    def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        start: int | None = None,
        ack_wait: float = 30.0,
    ) -> Subscription: ...

    async def last_seq(self) -> int: ...


# ---- state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateEntry:
    key: str
    value: Json
    revision: int


@dataclass(frozen=True, slots=True)
class StateChange:
    key: str
    op: Literal["put", "delete"]
    value: Json | None
    revision: int


class StateStore(Protocol):
    """Key → JSON value with a revision. ``cas(expected=0)`` creates only if the key
    does not exist. TTL is per put; an expired key reads as missing."""

    async def get(self, key: str) -> StateEntry | None: ...

    async def put(self, key: str, value: Json, *, ttl: float | None = None) -> int: ...

    async def cas(
        self, key: str, value: Json, expected: int, *, ttl: float | None = None
    ) -> int: ...  # raises ConflictError

    async def delete(self, key: str) -> bool: ...

    async def keys(self, prefix: str = "") -> list[str]: ...

    def watch(self, key: str, *, prefix: bool = False) -> AsyncIterator[StateChange]: ...


# ---- tasks ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    queue: str
    payload: Json
    priority: int = 0  # higher first; FIFO within a priority
    attempts: int = 0  # failed or expired deliveries so far
    enqueued: float = 0.0
    error: str = ""  # the last failure, for dead letters


@dataclass(frozen=True, slots=True)
class Lease:
    task: Task
    token: str  # proves the lease is still held (a re-leased task gets a new one)
    deadline: float


@dataclass(frozen=True, slots=True)
class QueueStats:
    ready: int
    leased: int
    delayed: int
    dead: int


class TaskQueue(Protocol):
    """Enqueue with priority; lease with a visibility timeout (an expired lease —
    a crashed worker — makes the task available again); ack; nack with a back-off;
    after ``max_attempts`` failures the task is dead-lettered."""

    async def enqueue(
        self, queue: str, payload: Json, *, priority: int = 0, task_id: str | None = None
    ) -> str: ...

    async def lease(
        self, queue: str, *, visibility: float = 60.0, wait: float = 0.0
    ) -> Lease | None: ...

    async def ack(self, lease: Lease) -> bool: ...  # False: the lease was lost

    async def nack(self, lease: Lease, *, error: str = "", delay: float | None = None) -> bool: ...

    async def extend(self, lease: Lease, visibility: float) -> Lease | None: ...

    async def dead_letters(self, queue: str) -> list[Task]: ...

    async def stats(self, queue: str) -> QueueStats: ...


# ---- built on the primitives ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: str
    name: str
    capabilities: tuple[str, ...] = ()
    host: str = ""
    pid: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0


class AgentRegistry(Protocol):
    async def register(self, agent: AgentInfo, *, ttl: float = 30.0) -> None: ...

    async def heartbeat(self, agent_id: str) -> bool: ...  # False: expired meanwhile

    async def unregister(self, agent_id: str) -> None: ...

    async def agents(self, capability: str | None = None) -> list[AgentInfo]: ...


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    project: str
    title: str = ""
    started: float = 0.0
    updated: float = 0.0
    meta: Mapping[str, Any] = field(default_factory=dict)


class SessionStore(Protocol):
    """Sessions and their events (``AgentEvent`` dicts), for the dashboard and resume."""

    async def open(self, record: SessionRecord) -> None: ...

    async def append(self, session_id: str, event: Json) -> int: ...

    async def events(self, session_id: str, *, after: int = 0) -> list[tuple[int, Json]]: ...

    async def sessions(self, project: str | None = None) -> list[SessionRecord]: ...


@dataclass(frozen=True, slots=True)
class Knowledge:
    ref: str
    text: str
    score: float
    when: float
    source: str


class KnowledgeBase(Protocol):
    """The runtime-facing view of project memory, so remote workers can use it."""

    async def search(self, query: str, *, limit: int = 10) -> list[Knowledge]: ...

    async def add(self, key: str, text: str, *, kind: str = "note") -> None: ...


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    exit_code: int | None
    output: str
    timed_out: bool = False


class SandboxAdapter(Protocol):
    """Run a command for an agent: a local process, bubblewrap where present, and
    the seam for containers."""

    @property
    def kind(self) -> str: ...

    async def run(
        self, agent_id: str, command: str, *, cwd: str, timeout_s: float = 120.0
    ) -> CommandOutcome: ...


ToolHandler = Callable[[Json], Awaitable[Json]]


class ToolHost(Protocol):
    """Expose tools to other processes and call theirs."""

    async def expose(self, name: str, handler: ToolHandler) -> None: ...

    async def call(self, name: str, arguments: Json, *, timeout_s: float = 60.0) -> Json: ...

    async def tools(self) -> list[str]: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class Backend:
    """One backend's primitives, opened together (``runtime.open_backend``)."""

    name: str
    bus: EventBus
    state: StateStore
    tasks: TaskQueue
    close: Callable[[], Awaitable[None]]
    health: Callable[[], Awaitable[Json]]
