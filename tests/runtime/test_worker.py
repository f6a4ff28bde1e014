"""Workers in this process (in-process backend, scripted model): results, events,
retries and stopping."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mnemocode.app import build_app
from mnemocode.config.settings import ModelConfig, RuntimeConfig, Settings
from mnemocode.core.types import ModelRequest
from mnemocode.llm.testing import ScriptedModel, Turn, error, text
from mnemocode.runtime.protocols import Backend
from mnemocode.runtime.services import RuntimeSessionStore, StateAgentRegistry
from mnemocode.worker import run_worker, submit_task, wait_result
from tests.runtime.helpers import eventually, opened, within

SETTINGS = Settings(models={"fake": ModelConfig(model="fake-model", base_url="http://127.0.0.1:9")})


@pytest.fixture
async def memory_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    config = RuntimeConfig(backend="memory", namespace=f"t{uuid.uuid4().hex[:16]}", max_attempts=2)
    async with opened(config, tmp_path) as backend:
        yield backend


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


def _prompt(request: ModelRequest) -> str:
    return request.messages[-1].text


def _start(
    backend: Backend, home: Path, model: ScriptedModel, stop: asyncio.Event, **options: Any
) -> asyncio.Task[int]:
    worker = run_worker(
        SETTINGS, home=home, backend=backend, worker_id=options.pop("worker_id", "w1"),
        stop=stop, build=functools.partial(build_app, model=model), poll_s=0.05,
        visibility=5.0, ttl=3.0, **options,
    )  # fmt: skip
    return asyncio.create_task(worker)


async def test_a_worker_runs_tasks_publishes_their_events_and_leaves_when_stopped(
    memory_backend: Backend, repo: Path, isolated_home: Path
) -> None:
    model = ScriptedModel(lambda request: text(f"done: {_prompt(request)}"))
    stop = asyncio.Event()
    worker = _start(memory_backend, isolated_home, model, stop, capabilities=["python"])
    ids = [await submit_task(memory_backend, f"task {n}", cwd=repo) for n in range(3)]

    results = [await within(wait_result(memory_backend, task_id, 10)) for task_id in ids]
    assert [(r["ok"], r["result"], r["worker"]) for r in results] == [
        (True, f"done: task {n}", "w1") for n in range(3)
    ]
    [agent] = await StateAgentRegistry(memory_backend.state).agents("python")
    assert agent.id == "w1" and agent.meta["queue"] == "agent"
    sessions = RuntimeSessionStore(memory_backend.state, memory_backend.bus)
    events = await within(sessions.events(results[1]["session_id"]))
    kinds = [event["type"] for _, event in events]
    assert kinds[0] == "turn_started" and kinds[-1] == "turn_finished"
    assert "text_delta" in kinds
    [record] = [s for s in await sessions.sessions() if s.id == results[1]["session_id"]]
    assert record.title == "task 1" and record.meta["task"] == ids[1]
    # A result asked for after the fact comes from state.
    assert (await within(wait_result(memory_backend, ids[0], 1)))["result"] == "done: task 0"

    stop.set()
    assert await within(worker) == 3
    assert await StateAgentRegistry(memory_backend.state).agents() == []
    stats = await memory_backend.tasks.stats("agent")
    assert (stats.ready, stats.leased, stats.dead) == (0, 0, 0)


async def test_a_task_that_keeps_failing_is_retried_then_reported_failed(
    memory_backend: Backend, repo: Path, isolated_home: Path
) -> None:
    model = ScriptedModel(lambda request: error(400, "the model refuses"))
    stop = asyncio.Event()
    worker = _start(memory_backend, isolated_home, model, stop)
    task_id = await submit_task(memory_backend, "impossible", cwd=repo)

    result = await within(wait_result(memory_backend, task_id, 20), 25)
    assert not result["ok"] and "the model refuses" in result["error"]
    assert len(model.requests) == 2  # max_attempts
    [dead] = await memory_backend.tasks.dead_letters("agent")
    assert dead.id == task_id and "the model refuses" in dead.error
    stop.set()
    assert await within(worker) == 0


async def test_a_task_whose_directory_is_missing_fails_without_a_model_call(
    memory_backend: Backend, tmp_path: Path, isolated_home: Path
) -> None:
    model = ScriptedModel([])
    stop = asyncio.Event()
    worker = _start(memory_backend, isolated_home, model, stop)
    task_id = await submit_task(memory_backend, "hello", cwd=tmp_path / "nowhere")
    result = await within(wait_result(memory_backend, task_id, 20), 25)
    assert not result["ok"] and "is not a directory" in result["error"]
    assert model.requests == []
    stop.set()
    await within(worker)


async def test_a_stopped_worker_hands_its_task_back_for_another(
    memory_backend: Backend, repo: Path, isolated_home: Path
) -> None:
    slow = ScriptedModel([Turn(text="too late", delay=60)])
    stop = asyncio.Event()
    first = _start(memory_backend, isolated_home, slow, stop)
    task_id = await submit_task(memory_backend, "long job", cwd=repo)

    async def busy() -> bool:
        return bool(slow.requests)

    await eventually(busy)
    stop.set()
    assert await within(first) == 0
    assert (await memory_backend.tasks.stats("agent")).leased == 0

    fast = ScriptedModel([text("finished")])
    stop_second = asyncio.Event()
    second = _start(memory_backend, isolated_home, fast, stop_second, worker_id="w2")
    result = await within(wait_result(memory_backend, task_id, 10))
    assert (result["ok"], result["result"], result["worker"]) == (True, "finished", "w2")
    stop_second.set()
    assert await within(second) == 1


async def test_a_worker_given_a_grace_period_finishes_its_task(
    memory_backend: Backend, repo: Path, isolated_home: Path
) -> None:
    model = ScriptedModel([Turn(text="made it", delay=0.3)])
    stop = asyncio.Event()
    worker = _start(memory_backend, isolated_home, model, stop, grace_s=30.0)
    task_id = await submit_task(memory_backend, "short job", cwd=repo)

    async def busy() -> bool:
        return bool(model.requests)

    await eventually(busy)
    stop.set()
    assert await within(worker) == 1
    assert (await within(wait_result(memory_backend, task_id, 1)))["result"] == "made it"
