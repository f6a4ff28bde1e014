"""What only the SQLite backend promises: several processes on one file (WAL),
and a process killed with -9 while holding a lease or a delivery loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends import open_backend
from mnemocode.runtime.protocols import Backend
from tests.runtime.helpers import Reader, within

_PRELUDE = """
import asyncio, json, sys
from pathlib import Path
from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends import open_backend

CONFIG = RuntimeConfig(backend="sqlite", path=sys.argv[1], namespace="mp", max_attempts=3)
"""


def _spawn(script: str, db: Path, *args: str) -> subprocess.Popen[str]:
    code = _PRELUDE + textwrap.dedent(script)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _config(db: Path) -> RuntimeConfig:
    return RuntimeConfig(backend="sqlite", path=str(db), namespace="mp", max_attempts=3)


async def _open(db: Path) -> Backend:
    return await open_backend(_config(db), home=db.parent)


async def _finish(process: subprocess.Popen[str]) -> str:
    out, err = await asyncio.to_thread(process.communicate, timeout=60)
    assert process.returncode == 0, err
    return out


async def test_default_path_is_runtime_db_in_home_and_uses_wal(tmp_path: Path) -> None:
    backend = await open_backend(RuntimeConfig(namespace="x"), home=tmp_path)
    try:
        await backend.bus.publish("a.b", {})
        health = await backend.health()
        assert health["backend"] == "sqlite" and health["ok"] is True
        assert health["last_seq"] == 1
    finally:
        await backend.close()
    with sqlite3.connect(tmp_path / "runtime.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_publishers_in_several_processes_share_one_sequence(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    backend = await _open(db)
    reader = Reader(backend.bus.subscribe("work.>", group="all", start=0))
    script = """
    async def main():
        backend = await open_backend(CONFIG, home=Path(sys.argv[1]).parent)
        for n in range(100):
            await backend.bus.publish(f"work.{sys.argv[2]}", {"n": n})
        await backend.close()
    asyncio.run(main())
    """
    writers = [_spawn(script, db, name) for name in ("a", "b", "c")]
    for writer in writers:
        await _finish(writer)
    got = await reader.take(300)
    assert sorted(d.event.seq for d in got) == list(range(1, 301))
    for name in ("a", "b", "c"):
        numbers = [d.event.data["n"] for d in got if d.event.subject == f"work.{name}"]
        assert numbers == list(range(100))  # per-subject order across processes
    await reader.close()
    await backend.close()


async def test_group_members_in_other_processes_split_the_work(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    backend = await _open(db)
    script = """
    async def main():
        backend = await open_backend(CONFIG, home=Path(sys.argv[1]).parent)
        sub = backend.bus.subscribe("jobs.>", group="workers", start=0)
        seen = []
        async for delivery in sub:
            await delivery.ack()
            if delivery.event.data.get("stop"):
                break
            seen.append(delivery.event.seq)
        await sub.close()
        await backend.close()
        print(json.dumps(seen))
    asyncio.run(main())
    """
    members = [_spawn(script, db) for _ in range(2)]
    seqs = [await backend.bus.publish("jobs.x", {"n": n}) for n in range(200)]
    for _ in members:
        await backend.bus.publish("jobs.x", {"stop": True})
    outputs = [json.loads(await _finish(member)) for member in members]
    handled = sorted(seq for output in outputs for seq in output)
    # each stop event ends one member, so every job was handled exactly once
    assert handled == seqs
    await backend.close()


async def test_kill_9_while_holding_a_lease_gives_the_task_to_another_worker(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shared.db"
    backend = await _open(db)
    task_id = await backend.tasks.enqueue("builds", {"n": 1})
    script = """
    async def main():
        backend = await open_backend(CONFIG, home=Path(sys.argv[1]).parent)
        lease = await backend.tasks.lease("builds", visibility=0.5, wait=10)
        print(lease.task.id, flush=True)
        await asyncio.sleep(60)
    asyncio.run(main())
    """
    worker = _spawn(script, db)
    assert worker.stdout is not None
    leased_id = (await within(asyncio.to_thread(worker.stdout.readline))).strip()
    assert leased_id == task_id
    os.kill(worker.pid, signal.SIGKILL)
    await asyncio.to_thread(worker.communicate, timeout=30)
    lease = await backend.tasks.lease("builds", visibility=30, wait=10)
    assert lease is not None and lease.task.id == task_id
    assert (lease.task.attempts, lease.task.error) == (1, "lease expired")
    assert await backend.tasks.ack(lease) is True
    await backend.close()


async def test_kill_9_with_an_unacked_delivery_redelivers_it(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    backend = await _open(db)
    script = """
    async def main():
        backend = await open_backend(CONFIG, home=Path(sys.argv[1]).parent)
        sub = backend.bus.subscribe("jobs.>", group="g", start=0, ack_wait=0.5)
        async for delivery in sub:
            print(delivery.event.seq, flush=True)
            await asyncio.sleep(60)
    asyncio.run(main())
    """
    seq = await backend.bus.publish("jobs.x", {"n": 1})
    worker = _spawn(script, db)
    assert worker.stdout is not None
    taken = (await within(asyncio.to_thread(worker.stdout.readline))).strip()
    assert taken == str(seq)
    os.kill(worker.pid, signal.SIGKILL)
    await asyncio.to_thread(worker.communicate, timeout=30)
    survivor = Reader(backend.bus.subscribe("jobs.>", group="g", ack_wait=0.5))
    delivery = await survivor.next()
    assert (delivery.event.seq, delivery.attempt) == (seq, 2)
    await delivery.ack()
    await survivor.close()
    await backend.close()


async def test_concurrent_writers_in_processes_do_not_lose_cas_increments(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    backend = await _open(db)
    await backend.state.put("counter", {"n": 0})
    script = """
    from mnemocode.runtime.protocols import ConflictError
    async def main():
        backend = await open_backend(CONFIG, home=Path(sys.argv[1]).parent)
        done = 0
        while done < 50:
            entry = await backend.state.get("counter")
            try:
                await backend.state.cas("counter", {"n": entry.value["n"] + 1}, entry.revision)
                done += 1
            except ConflictError:
                await asyncio.sleep(0)
        await backend.close()
    asyncio.run(main())
    """
    writers = [_spawn(script, db) for _ in range(3)]
    for writer in writers:
        await _finish(writer)
    entry = await backend.state.get("counter")
    assert entry is not None and entry.value == {"n": 150}
    await backend.close()


async def test_processes_opening_one_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    # Switching a file to WAL answers "database is locked" without waiting while
    # another process opens it; every open must ride that out.
    script = """
    import time
    async def main():
        for n in range(25):
            await asyncio.sleep(max(0.0, float(sys.argv[3]) + n * 0.08 - time.time()))
            path = Path(sys.argv[1]).parent / f"fresh-{n}.db"
            config = RuntimeConfig(backend="sqlite", path=str(path), namespace="mp")
            backend = await open_backend(config, home=path.parent)
            await backend.state.put(f"opened-{sys.argv[2]}", {"n": n})
            await backend.close()
    asyncio.run(main())
    """
    start = f"{time.time() + 2.0!r}"  # all four open each file at the same moment
    openers = [_spawn(script, tmp_path / "unused.db", str(n), start) for n in range(4)]
    for opener in openers:
        await _finish(opener)
    for n in range(25):
        backend = await _open(tmp_path / f"fresh-{n}.db")
        try:
            opened = sorted(await backend.state.keys("opened-"))
            assert opened == [f"opened-{k}" for k in range(4)]
        finally:
            await backend.close()
