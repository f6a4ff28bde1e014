"""Agent tasks on the runtime, the submitting side: the payload a worker expects,
``submit_task`` and ``wait_result``, and where results go (state key
``results/<task id>``, subject ``task.<task id>.done``; a worker announces the
start of an attempt on ``task.<task id>.started``). No model or app is needed here,
so any process can hand out work (``mnemocode.worker`` runs it).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from mnemocode.runtime.protocols import Backend, BackendError, Json
from mnemocode.runtime.subjects import encode_key

AGENT_QUEUE = "agent"
RESULT_TTL_S = 7 * 24 * 3600.0


def result_key(task_id: str) -> str:
    return f"results/{task_id}"


def done_subject(task_id: str) -> str:
    return f"task.{encode_key(task_id)}.done"


def started_subject(task_id: str) -> str:
    return f"task.{encode_key(task_id)}.started"


@dataclass(frozen=True, slots=True)
class AgentTask:
    prompt: str
    cwd: str
    project: str | None = None
    session_id: str | None = None
    model: str | None = None

    @classmethod
    def from_payload(cls, payload: Json) -> AgentTask:
        prompt, cwd = payload.get("prompt"), payload.get("cwd")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the task has no prompt")
        if not isinstance(cwd, str) or not cwd:
            raise ValueError("the task has no cwd")
        optional = {k: payload.get(k) for k in ("project", "session_id", "model")}
        if any(v is not None and not isinstance(v, str) for v in optional.values()):
            raise ValueError("project, session_id and model must be strings")
        return cls(prompt, cwd, **optional)

    def payload(self) -> Json:
        return {k: v for k, v in asdict(self).items() if v is not None}


# ---- giving work -------------------------------------------------------------------


async def submit_task(
    backend: Backend,
    prompt: str,
    *,
    cwd: Path | str,
    project: str | None = None,
    session_id: str | None = None,
    model: str | None = None,
    queue: str = AGENT_QUEUE,
    priority: int = 0,
    task_id: str | None = None,
) -> str:
    """Queue an agent task; returns its id (``task_id`` makes resubmitting safe)."""
    task = AgentTask(prompt, str(cwd), project, session_id, model)
    AgentTask.from_payload(task.payload())  # the worker would refuse it otherwise
    return await backend.tasks.enqueue(
        queue, task.payload(), priority=priority, task_id=task_id or uuid.uuid4().hex
    )


async def wait_result(backend: Backend, task_id: str, timeout_s: float = 600.0) -> Json:
    """The result of ``task_id`` (``{"ok", "result", "error", "session_id", ...}``),
    waiting for it up to ``timeout_s`` (then ``BackendError``)."""
    start = await backend.bus.last_seq() + 1
    # Stored before it is published: either it is here, or it comes after ``start``.
    stored = await backend.state.get(result_key(task_id))
    if stored is not None:
        return stored.value
    subscription = backend.bus.subscribe(done_subject(task_id), start=start)
    try:
        async with asyncio.timeout(timeout_s):
            async for delivery in subscription:
                return delivery.event.data
    except TimeoutError:
        raise BackendError(f"task {task_id} has no result after {timeout_s:g} s") from None
    finally:
        await subscription.close()
    raise BackendError(f"the bus closed before task {task_id} had a result")
