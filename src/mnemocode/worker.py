"""Workers: processes that take agent tasks from the runtime's queue and run each
as one headless turn, with the worker's own model, tools and safety settings.

A task's payload is ``{"prompt", "cwd", "project"?, "session_id"?, "model"?}``
(``runtime.agent_tasks``, which also has ``submit_task`` and ``wait_result``).
While it runs, the worker keeps its lease alive and publishes every ``AgentEvent``
on ``session.<session id>.events``; at the end it stores the result (state key
``results/<task id>``), publishes it on ``task.<task id>.done`` and acks. A failed
turn is nacked (retried, on any worker, until the queue dead-letters it; then a
failed result is published).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnemocode.app import App, build_app
from mnemocode.config.settings import Settings
from mnemocode.core.events import AgentEvent, TurnFinished, event_to_dict
from mnemocode.runtime.agent_tasks import (
    AGENT_QUEUE,
    RESULT_TTL_S,
    AgentTask,
    done_subject,
    result_key,
    started_subject,
    submit_task,
    wait_result,
)
from mnemocode.runtime.protocols import (
    AgentInfo,
    Backend,
    BackendError,
    Json,
    Lease,
    SessionRecord,
    TaskQueue,
)
from mnemocode.runtime.services import RuntimeSessionStore, StateAgentRegistry
from mnemocode.safety.approvers import headless_approver

__all__ = ["AGENT_QUEUE", "AgentTask", "run_worker", "submit_task", "wait_result"]

Build = Callable[..., App]


# ---- the worker --------------------------------------------------------------------


async def run_worker(
    settings: Settings,
    *,
    home: Path,
    backend: Backend,
    worker_id: str,
    stop: asyncio.Event,
    queue: str = AGENT_QUEUE,
    capabilities: Sequence[str] = (),
    build: Build = build_app,
    visibility: float = 60.0,
    ttl: float = 30.0,
    grace_s: float = 0.0,
    approve_all: bool = False,
    poll_s: float = 1.0,
    log: Callable[[str], None] = lambda _m: None,
) -> int:
    """Take tasks from ``queue`` until ``stop`` is set; returns how many were done.

    On ``stop`` the current task gets ``grace_s`` seconds to finish; then it is
    cancelled and nacked, so another worker does it.
    """
    worker = _Worker(
        settings, home, backend, worker_id, stop, queue, tuple(capabilities), build,
        visibility, ttl, grace_s, approve_all, poll_s, log,
    )  # fmt: skip
    return await worker.run()


@dataclass(slots=True)
class _Worker:
    settings: Settings
    home: Path
    backend: Backend
    id: str
    stop: asyncio.Event
    queue: str
    capabilities: tuple[str, ...]
    build: Build
    visibility: float
    ttl: float
    grace_s: float
    approve_all: bool
    poll_s: float
    log: Callable[[str], None]

    @property
    def registry(self) -> StateAgentRegistry:
        return StateAgentRegistry(self.backend.state)

    @property
    def tasks(self) -> TaskQueue:
        return self.backend.tasks

    def info(self) -> AgentInfo:
        alias = self.settings.model()[0] if self.settings.is_configured else ""
        meta = {"queue": self.queue, "model": alias, "backend": self.backend.name, "task": None}
        return AgentInfo(
            self.id, f"worker {self.id}", self.capabilities, socket.gethostname(), os.getpid(),
            meta,
        )  # fmt: skip

    async def run(self) -> int:
        await self.registry.register(self.info(), ttl=self.ttl)
        beat = asyncio.create_task(self._heartbeat())
        done = 0
        try:
            while not self.stop.is_set():
                try:
                    done += await self._take_one()
                except BackendError as exc:  # the server went away: try again shortly
                    self.log(f"runtime backend: {exc.one_line()}")
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_s):
                            await self.stop.wait()
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            with contextlib.suppress(BackendError):
                await self.registry.unregister(self.id)
        return done

    async def _take_one(self) -> int:
        lease = await self.tasks.lease(self.queue, visibility=self.visibility, wait=self.poll_s)
        if lease is None:
            return 0
        if self.stop.is_set():
            await self.tasks.nack(lease, error=f"worker {self.id} stopped", delay=0)
            return 0
        return await self._handle(lease)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                if not await self.registry.heartbeat(self.id):
                    await self.registry.register(self.info(), ttl=self.ttl)
            except BackendError as exc:
                self.log(f"heartbeat failed: {exc.one_line()}")

    async def _handle(self, lease: Lease) -> int:
        """Run one leased task to its end: done (1), failed or given back (0)."""
        task = lease.task
        try:
            request = AgentTask.from_payload(task.payload)
        except ValueError as exc:  # no worker can do it: finish it as failed
            await self._finish(lease, _failure(task.id, self.id, str(exc)))
            return 0
        self.log(f"task {task.id}: started (attempt {task.attempts + 1})")
        with contextlib.suppress(BackendError):
            await self._say(task=task.id)
        keeper = _LeaseKeeper(self.tasks, lease, self.visibility)
        work = asyncio.create_task(self._run_agent(task.id, task.attempts + 1, request))
        guards = [asyncio.create_task(keeper.keep(work)), asyncio.create_task(self._stopper(work))]
        try:
            result = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():  # we were: hand the task back
                await self._give_back(keeper, f"worker {self.id} cancelled")
                raise
            if keeper.lost:
                self.log(f"task {task.id}: lease lost, dropped")
            else:
                await self._give_back(keeper, f"worker {self.id} stopped")
            return 0
        except Exception as exc:
            await self._failed(keeper, f"{type(exc).__name__}: {exc}")
            return 0
        finally:
            for guard in guards:
                guard.cancel()
            await asyncio.gather(*guards, return_exceptions=True)
            with contextlib.suppress(BackendError):
                await self._say(task=None)
        if not result["ok"]:
            await self._failed(keeper, result["error"] or result["result"])
            return 0
        await self._finish(keeper.lease, result)
        self.log(f"task {task.id}: done")
        return 1

    async def _stopper(self, work: asyncio.Task[Json]) -> None:
        await self.stop.wait()
        if self.grace_s > 0:
            await asyncio.wait({work}, timeout=self.grace_s)
        work.cancel()

    async def _say(self, **meta: Any) -> None:
        await self.registry.update_meta(self.id, **meta)

    async def _finish(self, lease: Lease, result: Json) -> None:
        """Store and publish the result, then ack (a result may be published twice
        when a lease is lost just before the ack: at-least-once)."""
        task_id = lease.task.id
        await self.backend.state.put(result_key(task_id), result, ttl=RESULT_TTL_S)
        await self.backend.bus.publish(done_subject(task_id), result)
        if not await self.tasks.ack(lease):
            self.log(f"task {task_id}: finished, but its lease had expired")

    async def _failed(self, keeper: _LeaseKeeper, error: str) -> None:
        """Nack; when that was the last attempt, publish the failure."""
        task_id = keeper.lease.task.id
        self.log(f"task {task_id}: failed: {error}")
        await self.tasks.nack(keeper.lease, error=error)
        dead = await self.tasks.dead_letters(self.queue)
        if any(t.id == task_id for t in dead):
            result = _failure(task_id, self.id, error)
            await self.backend.state.put(result_key(task_id), result, ttl=RESULT_TTL_S)
            await self.backend.bus.publish(done_subject(task_id), result)

    async def _give_back(self, keeper: _LeaseKeeper, why: str) -> None:
        with contextlib.suppress(BackendError):
            await self.tasks.nack(keeper.lease, error=why, delay=0)
        self.log(f"task {keeper.lease.task.id}: handed back ({why})")

    # ---- one turn ----------------------------------------------------------------

    async def _run_agent(self, task_id: str, attempt: int, request: AgentTask) -> Json:
        cwd = Path(request.cwd)
        if not cwd.is_dir():
            raise FileNotFoundError(f"{cwd} is not a directory on {socket.gethostname()}")
        app = self.build(
            self.settings,
            cwd=cwd,
            home=self.home,
            approver=headless_approver(self.approve_all),
            env=os.environ,
            model_alias=request.model,
            project=request.project,
        )
        try:
            if request.session_id:
                _use_session(app, request.session_id)
            session_id = app.session_id
            sessions = RuntimeSessionStore(self.backend.state, self.backend.bus)
            meta = {"task": task_id, "worker": self.id, "cwd": str(app.cwd), "attempt": attempt}
            await sessions.open(
                SessionRecord(session_id, app.project_name, request.prompt[:80], meta=meta)
            )
            started = {
                "task_id": task_id,
                "worker": self.id,
                "session_id": session_id,
                "attempt": attempt,
            }
            await self.backend.bus.publish(started_subject(task_id), started)
            finished = await _publishing(app, request.prompt, sessions, session_id)
            return _success(task_id, self.id, app, session_id, finished)
        finally:
            await _close(app)


async def _publishing(
    app: App, prompt: str, sessions: RuntimeSessionStore, session_id: str
) -> TurnFinished:
    """Run the turn; its events go to the bus in order, without holding it up."""
    outbox: asyncio.Queue[Json | None] = asyncio.Queue()

    async def publish() -> None:
        while (event := await outbox.get()) is not None:
            await sessions.append(session_id, event)

    def emit(event: AgentEvent) -> None:
        outbox.put_nowait(event_to_dict(event))

    publisher = asyncio.create_task(publish())
    try:
        finished = await app.run_turn(prompt, emit)
        outbox.put_nowait(None)
        await publisher
        return finished
    finally:
        publisher.cancel()
        await asyncio.gather(publisher, return_exceptions=True)


def _use_session(app: App, session_id: str) -> None:
    """Continue ``session_id`` when this machine's memory has it; else start the
    conversation under that id."""
    if app.memory is not None and app.memory.sessions.get(session_id) is not None:
        app.resume(session_id)
        return
    app.session_id = session_id
    app.agent.tool_context.session_id = session_id


async def _close(app: App) -> None:
    """Release what the app opened: background work, commands it left running, the
    model's connections and memory (its summary queued, as after a headless run)."""
    await app.stop_memory_work()  # its job stays queued, as after a headless run
    await app.safety.sandbox.aclose()
    close_model = getattr(app.agent.slot.model, "aclose", None)
    if close_model is not None:
        with contextlib.suppress(Exception):
            await close_model()
    if app.memory is not None:
        try:
            app.memory.end_session(app.session_id)
        finally:
            app.memory.close()


def _success(task_id: str, worker: str, app: App, session_id: str, finished: TurnFinished) -> Json:
    usage = app.agent.totals.usage
    ok = finished.stop_reason != "error"
    return {
        "task_id": task_id,
        "ok": ok,
        "result": finished.text,
        "error": "" if ok else finished.text,
        "stop_reason": finished.stop_reason,
        "session_id": session_id,
        "worker": worker,
        "model": app.model_alias,
        "iterations": finished.iterations,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        "cost_usd": app.agent.totals.cost_usd,
    }


def _failure(task_id: str, worker: str, error: str) -> Json:
    return {"task_id": task_id, "ok": False, "result": "", "error": error, "worker": worker}


class _LeaseKeeper:
    """Extends the lease every third of its visibility; if it was lost meanwhile,
    stops the work (someone else may be doing the task now)."""

    def __init__(self, tasks: TaskQueue, lease: Lease, visibility: float) -> None:
        self.tasks, self.lease, self.visibility = tasks, lease, visibility
        self.lost = False

    async def keep(self, work: asyncio.Task[Json]) -> None:
        while not work.done():
            await asyncio.sleep(self.visibility / 3)
            try:
                extended = await self.tasks.extend(self.lease, self.visibility)
            except BackendError:
                continue  # a hiccup; the lease has two more thirds to go
            if extended is None:
                self.lost = True
                work.cancel()
                return
            self.lease = extended
