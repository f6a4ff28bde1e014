"""Runtime backends: event publish→consume→ack, state put/get and task
enqueue→lease→ack on memory, SQLite, Redis and NATS; for Redis and NATS the same
workloads written directly with the raw client (``bench/runtime_raw.py``) run
against the same server in the same run, and ours is reported as a ratio of raw.

Targets: ≥ 0.7 of raw for Redis and NATS; ≥ 5,000 events/s on SQLite.
The servers are started here (the test fixtures' classes: redis-server with AOF,
switched to fsync every second; nats-server -js with a file store), on free
loopback ports in a temporary directory, and stopped at the end; each backend
gets a fresh namespace. A backend that cannot be opened, or a workload that
fails, shows its error in the table.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from bench import runtime_raw as raw
from bench.common import machine
from bench.runtime_raw import EventResult, Rate, Received, TaskResult, describe
from mnemocode.runtime.protocols import Backend

BACKENDS = ("memory", "sqlite", "redis", "nats")
SERVER_BACKENDS = raw.SERVERS
EVENTS, STATE_OPS, STATE_KEYS, TASKS = 20_000, 10_000, 1_000, 5_000
WARM_EVENTS, WARM_STATE_OPS, WARM_TASKS = 1_000, 500, 200
ROUNDS = 2  # Redis and NATS: ours and raw alternate, best of each reported
WORKLOAD_TIMEOUT = 60.0  # seconds; a backend that takes longer shows "timed out"
TOTAL_BUDGET = 270.0  # seconds; workloads not started by then show "skipped"
RAW_TARGET, SQLITE_EVENTS_TARGET = 0.7, 5_000

T = TypeVar("T")
Outcome: TypeAlias = T | str  # a result, or why there is none


@dataclass(slots=True)
class Measured:
    """One backend's (or raw client's) outcome per workload."""

    events: Outcome[EventResult] = "not run"
    state: Outcome[tuple[Rate, Rate]] = "not run"
    tasks: Outcome[TaskResult] = "not run"


class Budget:
    def __init__(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds

    async def run(self, work: Callable[[], Awaitable[T]]) -> Outcome[T]:
        """``work()`` within WORKLOAD_TIMEOUT, or the reason it has no result."""
        if time.monotonic() > self._deadline:
            return "skipped (benchmark time budget spent)"
        try:
            return await asyncio.wait_for(work(), WORKLOAD_TIMEOUT)
        except TimeoutError:
            return f"timed out after {WORKLOAD_TIMEOUT:.0f} s"
        except Exception as exc:  # the table shows what failed instead of hiding it
            traceback.print_exc()
            return describe(exc)


# ---- our backends --------------------------------------------------------------------


async def our_events(backend: Backend, count: int, name: str) -> EventResult:
    bus = backend.bus
    subject = f"bench.{name}"
    start = await bus.last_seq() + 1

    async def publish(data: dict[str, Any]) -> object:
        return await bus.publish(subject, data)

    async def consume(received: Received) -> None:
        subscription = bus.subscribe(subject, group=name, start=start, ack_wait=30.0)
        try:
            async for delivery in subscription:
                last = received(delivery.event.data)
                await delivery.ack()
                if last:
                    return
        finally:
            await subscription.close()

    return await raw.events(count, publish, consume)


async def our_state(backend: Backend, count: int, name: str) -> tuple[Rate, Rate]:
    state = backend.state

    async def put(n: int) -> object:
        return await state.put(f"{name}:{raw.key_of(n, STATE_KEYS)}", raw.state_value(n))

    async def get(n: int) -> object:
        entry = await state.get(f"{name}:{raw.key_of(n, STATE_KEYS)}")
        if entry is None:
            raise RuntimeError("a key just put reads as missing")
        return entry

    return await raw.drive_ops(count, put), await raw.drive_ops(count, get)


async def our_tasks(backend: Backend, count: int, name: str) -> TaskResult:
    tasks = backend.tasks

    async def enqueue(n: int) -> object:
        return await tasks.enqueue(name, raw.state_value(n))

    async def lease_and_ack() -> bool:
        lease = await tasks.lease(name, visibility=60.0)
        return lease is not None and bool(await tasks.ack(lease))

    return await raw.drive_tasks(count, enqueue, lease_and_ack)


async def measure_ours(name: str, url: str | None, home: Path, budget: Budget) -> Measured:
    measured = Measured()
    try:
        from mnemocode.config.settings import RuntimeConfig
        from mnemocode.runtime.backends import open_backend

        config = RuntimeConfig(
            backend=name,  # type: ignore[arg-type]
            url=url,
            path=str(home / f"{name}.db") if name == "sqlite" else None,
            namespace=f"b{uuid.uuid4().hex[:12]}",
        )
        backend = await asyncio.wait_for(open_backend(config, home=home), WORKLOAD_TIMEOUT)
    except Exception as exc:
        traceback.print_exc()
        error = f"backend not available: {describe(exc)}"
        measured.events = measured.state = measured.tasks = error
        return measured
    try:
        await budget.run(lambda: our_events(backend, WARM_EVENTS, "warm"))
        measured.events = await budget.run(lambda: our_events(backend, EVENTS, "run"))
        await budget.run(lambda: our_state(backend, WARM_STATE_OPS, "warm"))
        measured.state = await budget.run(lambda: our_state(backend, STATE_OPS, "run"))
        await budget.run(lambda: our_tasks(backend, WARM_TASKS, "warm"))
        measured.tasks = await budget.run(lambda: our_tasks(backend, TASKS, "run"))
    finally:
        try:
            await backend.close()
        except Exception:
            traceback.print_exc()
    return measured


# ---- raw clients ---------------------------------------------------------------------

RAW_WORKLOADS = {
    "redis": (raw.redis_events, raw.redis_state, raw.redis_tasks),
    "nats": (raw.nats_events, raw.nats_state, raw.nats_tasks),
}


async def measure_raw(name: str, url: str, budget: Budget) -> Measured:
    events, state, tasks = RAW_WORKLOADS[name]
    measured = Measured()
    tag = uuid.uuid4().hex[:8]
    await budget.run(lambda: events(url, WARM_EVENTS, f"w{tag}"))
    measured.events = await budget.run(lambda: events(url, EVENTS, f"r{tag}"))
    await budget.run(lambda: state(url, WARM_STATE_OPS, STATE_KEYS, f"w{tag}"))
    measured.state = await budget.run(lambda: state(url, STATE_OPS, STATE_KEYS, f"r{tag}"))
    await budget.run(lambda: tasks(url, WARM_TASKS, f"w{tag}"))
    measured.tasks = await budget.run(lambda: tasks(url, TASKS, f"r{tag}"))
    return measured


def measure_all() -> tuple[dict[str, Measured], dict[str, Measured], list[str]]:
    ours: dict[str, Measured] = {}
    reference: dict[str, Measured] = {}
    versions: list[str] = []
    budget = Budget(TOTAL_BUDGET)
    with (
        tempfile.TemporaryDirectory(prefix="mnemo-bench-runtime-") as tmp,
        raw.servers(Path(tmp)) as urls,
    ):
        for name in BACKENDS:
            print(f"  {name} ...", flush=True)
            home = Path(tmp) / f"home-{name}"
            home.mkdir()
            url = urls.get(name)
            if name not in SERVER_BACKENDS:
                ours[name] = asyncio.run(measure_ours(name, url, home, budget))
                continue
            if url is None:
                ours[name] = reference[name] = Measured(*["server did not start"] * 3)
                continue
            # alternating rounds, best of each: the machine's noise hits both sides alike
            for round_ in range(ROUNDS):
                print(f"  {name} round {round_ + 1} (ours, then the raw client) ...", flush=True)
                ours[name] = best(
                    ours.get(name), asyncio.run(measure_ours(name, url, home, budget))
                )
                reference[name] = best(
                    reference.get(name), asyncio.run(measure_raw(name, url, budget))
                )
        versions = raw.server_versions()
    return ours, reference, versions


def best(earlier: Measured | None, latest: Measured) -> Measured:
    """Per workload, the faster of two rounds (a result over an error)."""
    if earlier is None:
        return latest
    return Measured(
        _faster(earlier.events, latest.events, _event_speed),
        _faster(earlier.state, latest.state, _state_speed),
        _faster(earlier.tasks, latest.tasks, _task_speed),
    )


def _event_speed(result: EventResult) -> float:
    return result.loaded.per_second


def _state_speed(result: tuple[Rate, Rate]) -> float:
    return result[0].per_second + result[1].per_second


def _task_speed(result: TaskResult) -> float:
    return result.end_to_end.per_second


def _faster(a: Outcome[T], b: Outcome[T], speed: Callable[[Any], float]) -> Outcome[T]:
    if isinstance(a, str):
        return b
    if isinstance(b, str):
        return a
    return a if speed(a) >= speed(b) else b


# ---- the report ----------------------------------------------------------------------


def _rate(outcome: Rate | str) -> str:
    return f"{outcome.per_second:,.0f}" if isinstance(outcome, Rate) else outcome


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _ratio(ours: Rate | str, reference: Rate | str | None) -> str:
    if not isinstance(ours, Rate) or not isinstance(reference, Rate):
        return "—"
    return f"{ours.per_second / reference.per_second:.2f}"


def _verdict(
    name: str, ours: Rate | str, reference: Rate | str | None, minimum: float | None = None
) -> str:
    if not isinstance(ours, Rate):
        return "—"
    if name in SERVER_BACKENDS and isinstance(reference, Rate):
        met = ours.per_second >= RAW_TARGET * reference.per_second
        return f"≥ {RAW_TARGET} × raw: {'met' if met else '**missed**'}"
    if minimum is not None:
        return f"≥ {minimum:,}/s: {'met' if ours.per_second >= minimum else '**missed**'}"
    return "—"


def event_table(ours: dict[str, Measured], reference: dict[str, Measured]) -> list[str]:
    lines = [
        "| backend | events/s | p50 ms | p99 ms | p50 / p99 ms at full rate | raw events/s "
        "| raw p50 / p99 ms | ratio | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in BACKENDS:
        result = ours[name].events
        ref = reference[name].events if name in reference else None
        if isinstance(result, EventResult):
            loaded, unloaded = result.loaded, result.unloaded
            ours_cells = [
                _rate(loaded),
                _ms(unloaded.p50_ms()),
                _ms(unloaded.p99_ms()),
                f"{_ms(loaded.p50_ms())} / {_ms(loaded.p99_ms())}",
            ]
        else:
            loaded, ours_cells = None, [result, "", "", ""]
        if isinstance(ref, EventResult):
            ref_cells = [
                _rate(ref.loaded),
                f"{_ms(ref.unloaded.p50_ms())} / {_ms(ref.unloaded.p99_ms())}",
            ]
            ref_rate: Rate | str | None = ref.loaded
        else:
            ref_cells, ref_rate = [ref or "—", "—"], ref
        ours_rate: Rate | str = loaded if loaded is not None else str(result)
        sqlite_min = SQLITE_EVENTS_TARGET if name == "sqlite" else None
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    *ours_cells,
                    *ref_cells,
                    _ratio(ours_rate, ref_rate),
                    _verdict(name, ours_rate, ref_rate, sqlite_min),
                ]
            )
            + " |"
        )
    return lines


def _op_row(name: str, op: str, ours: Rate | str, ref: Rate | str | None) -> str:
    cells = [name, op, _rate(ours)]
    cells += (
        [_ms(ours.p50_ms()), _ms(ours.p99_ms())]
        if isinstance(ours, Rate) and ours.latencies
        else ["", ""]
    )
    cells += [_rate(ref) if ref is not None else "—", _ratio(ours, ref), _verdict(name, ours, ref)]
    return "| " + " | ".join(cells) + " |"


def state_table(ours: dict[str, Measured], reference: dict[str, Measured]) -> list[str]:
    lines = [
        "| backend | op | ops/s | p50 ms | p99 ms | raw ops/s | ratio | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in BACKENDS:
        result = ours[name].state
        ref = reference[name].state if name in reference else None
        for index, op in enumerate(("put", "get")):
            mine = result[index] if isinstance(result, tuple) else result
            theirs = ref[index] if isinstance(ref, tuple) else ref
            lines.append(_op_row(name, op, mine, theirs))
    return lines


def task_table(ours: dict[str, Measured], reference: dict[str, Measured]) -> list[str]:
    lines = [
        "| backend | phase | tasks/s | p50 ms | p99 ms | raw tasks/s | ratio | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in BACKENDS:
        result = ours[name].tasks
        ref = reference[name].tasks if name in reference else None
        for op in ("enqueue", "lease + ack", "end to end"):
            mine: Rate | str = _phase(result, op)
            theirs: Rate | str | None = _phase(ref, op) if ref is not None else None
            lines.append(_op_row(name, op, mine, theirs))
    return lines


def _phase(result: TaskResult | str, op: str) -> Rate | str:
    if not isinstance(result, TaskResult):
        return result
    return {
        "enqueue": result.enqueue,
        "lease + ack": result.lease_ack,
        "end to end": result.end_to_end,
    }[op]


INTRO = """
Machine: {machine}. Servers: {servers}, started by the benchmark with the test fixtures'
classes (redis-server with AOF, switched to `appendfsync everysec`; nats-server `-js`, file
store) on loopback; each backend in a fresh namespace. redis-py {redis}, nats-py {nats}.
Whole run: {elapsed:.0f} s.
"""
TARGETS = """
Targets: Redis and NATS at least {raw_target} of the raw client's throughput; SQLite at least
{sqlite_target:,} events/s. Each workload runs once, smaller, as a warm-up before it is
measured; for Redis and NATS ours and the raw client alternate for {rounds} rounds and the
best of each is reported (single runs on this shared machine vary noticeably).
"""
EVENTS_METHOD = """
One publisher and one consumer in a group that acks each delivery, in one process.
Throughput: {events:,} events of ~200 bytes, the publisher at most {window} events ahead of
the consumer, from the first publish call to the last ack. Latency: from before the publish
call to the consumer receiving the event (`time.perf_counter` stamped in the payload); p50
and p99 with one event in flight ({unloaded:,} events), and at full rate (the throughput
run, so up to {window} events of backlog are included). Raw Redis: `XADD` (MAXLEN ~) +
`XREADGROUP COUNT {batch} BLOCK` + one `XACK` per batch read (our group member batches its
acks too); raw NATS: JetStream publish (awaiting the ack) + durable pull consumer
`fetch({batch})` + `ack()` per message.
"""
STATE_METHOD = """
One client, one call at a time: {ops:,} puts of a ~200-byte JSON value over {keys:,} keys,
then {ops:,} gets; latency per call. Raw Redis: `SET` / `GET` (our put is one Lua script
that also assigns the revision for compare-and-set, indexes the key and appends the change
to the watch stream; our get is one `GET`); raw NATS: a key-value bucket's `put` / `get`.
"""
TASKS_METHOD = """
One client, one call at a time: {tasks:,} tasks enqueued, then each leased (visibility
60 s) and acked; end to end = tasks / (enqueue time + lease-and-ack time). Raw Redis: a
sorted set by priority and arrival plus a hash per task; enqueue is one script (`HSET`,
`ZADD`), lease one script (`ZPOPMIN`, `ZADD` to a leased set with the deadline, the token
into the hash), ack one script (token check, `ZREM`, `DEL`). Raw NATS: a work-queue
stream; publish, a durable pull consumer's `fetch(1)` (its ack_wait is the visibility),
`ack_sync()` (confirmed, as our `ack` returns whether the lease held).
"""


def _paragraph(template: str, **values: Any) -> str:
    return " ".join(template.format(**values).split())


def run() -> str:
    started = time.perf_counter()
    ours, reference, versions = measure_all()
    elapsed = time.perf_counter() - started
    lines = [
        "## Runtime",
        "",
        _paragraph(
            INTRO,
            machine=machine(),
            servers="; ".join(versions) or "unknown",
            redis=_version("redis"),
            nats=_version("nats-py"),
            elapsed=elapsed,
        ),
        "",
        _paragraph(
            TARGETS, raw_target=RAW_TARGET, sqlite_target=SQLITE_EVENTS_TARGET, rounds=ROUNDS
        ),
        "",
        f"### Events: publish → consume → ack ({EVENTS:,} events)",
        "",
        _paragraph(
            EVENTS_METHOD,
            events=EVENTS,
            window=raw.WINDOW,
            unloaded=raw.unloaded_count(EVENTS),
            batch=raw.FETCH_BATCH,
        ),
        "",
        *event_table(ours, reference),
        "",
        f"### State: put / get ({STATE_OPS:,} of each)",
        "",
        _paragraph(STATE_METHOD, ops=STATE_OPS, keys=STATE_KEYS),
        "",
        *state_table(ours, reference),
        "",
        f"### Tasks: enqueue → lease → ack ({TASKS:,} tasks)",
        "",
        _paragraph(TASKS_METHOD, tasks=TASKS),
        "",
        *task_table(ours, reference),
    ]
    return "\n".join(lines) + "\n"


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    print(run())
