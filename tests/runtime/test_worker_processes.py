"""Real worker processes (`mnemo worker --backend sqlite`) sharing one SQLite
runtime file and a fake OpenAI-compatible server: a worker killed with SIGKILL
while it holds a task loses it to the other, and every task is done once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from mnemocode.config.settings import RuntimeConfig
from mnemocode.llm.testing import FakeOpenAIServer, RecordedRequest, Turn, text
from mnemocode.runtime.agent_tasks import submit_task, wait_result
from mnemocode.runtime.backends import open_backend
from mnemocode.runtime.protocols import Backend, Json
from mnemocode.runtime.services import StateAgentRegistry
from tests.conftest import run_mnemo, write_global_config
from tests.runtime.helpers import eventually, within

SLOW = "the slow task"


class Model:
    """The fake model's answers: the slow task's first request takes a minute
    (its worker is killed meanwhile), everything else answers at once."""

    def __init__(self) -> None:
        self.prompts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Turn:
        content = request.messages[-1]["content"]
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content)
        prompt = str(content)
        with self.lock:
            self.prompts[prompt] += 1
            first = self.prompts[prompt] == 1
        if prompt == SLOW and first:
            return text("too late", delay=60)
        return text(f"done: {prompt}")

    def asked(self, prompt: str) -> int:
        with self.lock:
            return self.prompts[prompt]


@pytest.fixture
def model() -> Model:
    return Model()


@pytest.fixture
def server(model: Model) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(model) as fake:
        yield fake


@pytest.fixture
def namespace(isolated_home: Path, server: FakeOpenAIServer) -> str:
    name = f"t{uuid.uuid4().hex[:16]}"
    write_global_config(
        isolated_home,
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{server.base_url}"\nmax_retries = 0\n'
        f'[runtime]\nbackend = "sqlite"\nnamespace = "{name}"\nmax_attempts = 3\n',
    )
    return name


@pytest.fixture
async def backend(isolated_home: Path, namespace: str) -> AsyncIterator[Backend]:
    config = RuntimeConfig(backend="sqlite", namespace=namespace, max_attempts=3)
    opened = await open_backend(config, home=isolated_home)  # <home>/runtime.db, as the workers
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


class Workers:
    def __init__(self, home: Path, cwd: Path, logs: Path) -> None:
        self.home, self.cwd, self.logs = home, cwd, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, worker_id: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
        env.update(MNEMO_HOME=str(self.home), NO_COLOR="1")
        args = ["worker", "--backend", "sqlite", "--id", worker_id, "--visibility", "1.5"]
        with (self.logs / f"{worker_id}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mnemocode", *args, "--grace", "0"],
                cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        self.procs[worker_id] = proc
        return proc

    def log(self, worker_id: str) -> str:
        return (self.logs / f"{worker_id}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def workers(isolated_home: Path, repo: Path, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(isolated_home, repo, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


async def _until_registered(backend: Backend, worker_id: str, workers: Workers) -> None:
    registry = StateAgentRegistry(backend.state)

    async def registered() -> bool:
        if workers.procs[worker_id].poll() is not None:
            raise AssertionError(f"{worker_id} exited:\n{workers.log(worker_id)}")
        return worker_id in {a.id for a in await registry.agents()}

    await eventually(registered, 30)


async def _done_events(backend: Backend) -> Counter[str]:
    """Successful ``task.<id>.done`` events on the bus, by task id."""
    last = await backend.bus.last_seq()
    counts: Counter[str] = Counter()
    subscription = backend.bus.subscribe(">", start=0)
    try:
        async for delivery in subscription:
            event = delivery.event
            subject = event.subject
            if subject.startswith("task.") and subject.endswith(".done") and event.data["ok"]:
                counts[event.data["task_id"]] += 1
            if event.seq >= last:
                break
    finally:
        await subscription.close()
    return counts


async def test_a_killed_workers_task_is_redone_by_the_other_and_every_task_done_once(
    backend: Backend, workers: Workers, model: Model, repo: Path, isolated_home: Path
) -> None:
    workers.start("w1")
    await _until_registered(backend, "w1", workers)
    slow_id = await submit_task(backend, SLOW, cwd=repo)

    async def slow_started() -> bool:
        return model.asked(SLOW) > 0

    await eventually(slow_started, 30)
    holder = {a.id: a.meta.get("task") for a in await StateAgentRegistry(backend.state).agents()}
    assert holder == {"w1": slow_id}

    workers.start("w2")
    await _until_registered(backend, "w2", workers)
    fast_ids = [await submit_task(backend, f"quick {n}", cwd=repo) for n in range(4)]
    os.kill(workers.procs["w1"].pid, signal.SIGKILL)
    workers.procs["w1"].wait(timeout=10)

    results: dict[str, Json] = {}
    for task_id in [*fast_ids, slow_id]:
        results[task_id] = await within(wait_result(backend, task_id, 60), 65)
    problems = {t: r for t, r in results.items() if not r["ok"]}
    assert not problems, f"{problems}\n{workers.log('w2')}"
    assert results[slow_id]["worker"] == "w2"
    assert results[slow_id]["result"] == f"done: {SLOW}"
    assert [results[t]["result"] for t in fast_ids] == [f"done: quick {n}" for n in range(4)]

    done = await within(_done_events(backend))
    assert {t: done[t] for t in fast_ids} == dict.fromkeys(fast_ids, 1)
    assert done[slow_id] >= 1  # the killed worker's task: a duplicate would be allowed
    assert all(model.asked(f"quick {n}") == 1 for n in range(4))
    assert model.asked(SLOW) == 2

    async def settled() -> bool:
        return (await backend.tasks.stats("agent")).leased == 0

    await eventually(settled)
    stats = await backend.tasks.stats("agent")
    assert (stats.ready, stats.delayed, stats.dead) == (0, 0, 0)

    status = await asyncio.to_thread(_status, repo, isolated_home)
    assert status["health"]["ok"] and status["health"]["backend"] == "sqlite"
    assert "w2" in {a["id"] for a in status["agents"]}
    assert status["queues"]["agent"]["dead"] == 0

    workers.procs["w2"].send_signal(signal.SIGTERM)
    assert workers.procs["w2"].wait(timeout=30) == 0, workers.log("w2")
    assert "stopped after 5 task(s)" in workers.log("w2")
    assert "w2" not in {a.id for a in await StateAgentRegistry(backend.state).agents()}


def _status(cwd: Path, home: Path) -> Any:
    proc = run_mnemo(["runtime", "status", "--json"], cwd=cwd, home=home)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    text_proc = run_mnemo(["runtime", "status"], cwd=cwd, home=home)
    assert text_proc.returncode == 0 and "sqlite — ok" in text_proc.stdout, text_proc.stdout
    return json.loads(proc.stdout)


@pytest.mark.parametrize("backend", ["redis", "nats"])
def test_status_of_an_unreachable_backend_exits_1(
    backend: str, tmp_path: Path, isolated_home: Path
) -> None:
    url = f"{backend}://127.0.0.1:9" + ("/0" if backend == "redis" else "")
    args = ["runtime", "status", "--backend", backend, "--url", url, "--timeout", "2"]
    proc = run_mnemo([*args, "--json"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 1, proc.stderr
    health = json.loads(proc.stdout)["health"]
    assert health["ok"] is False and health["backend"] == backend


def test_submit_and_wait_through_the_cli(
    workers: Workers, repo: Path, isolated_home: Path, namespace: str, model: Model
) -> None:
    workers.start("w1")
    proc = run_mnemo(["runtime", "submit", "say hi", "--wait", "--timeout", "60"], cwd=repo,
                     home=isolated_home, timeout=90)  # fmt: skip
    assert proc.returncode == 0, proc.stderr + workers.log("w1")
    assert proc.stdout == "done: say hi\n"
    assert model.asked("say hi") == 1
