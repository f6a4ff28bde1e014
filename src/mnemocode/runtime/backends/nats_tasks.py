"""TaskQueue on JetStream.

Layout (per namespace):

- ``<ns>_tasks``: a work-queue stream; a task is a message on
  ``<ns>.task.<queue>.p<priority>`` (one subject per priority in use, a "band"),
  read by one durable pull consumer per band. A lease fetches one message from
  the highest band that has one (bands are found from the stream's subject
  counts); FIFO within a band is the stream order. An ack deletes the message.
- Visibility is the consumer's ``ack_wait``, so an expired lease (a crashed
  worker) is redelivered by the server and ``num_delivered - 1`` is the attempt
  count — expiries and nacks alike. ``ack_wait`` is per consumer: it starts at
  the first lease's visibility and drops to a smaller one when asked; a longer
  visibility (or ``extend``) is kept alive with ``in_progress`` from the leasing
  process until its deadline.
- The token is ``<stream seq>.<delivery count>``. The server accepts an ack for a
  delivery that has already been redelivered, so ``ack``/``nack`` check the lease's
  deadline locally first: after it, the lease is lost (False) and nothing is sent.
- ``nack`` is a ``-NAK`` with the delay; the error goes to ``<ns>_taskmeta``
  (``<ns>.tmeta.<queue>.<id>``, one message per task), read back on the next
  lease. A ``task_id`` also creates that record first (expected sequence 0), which
  is how "no duplicate while the task exists" holds across processes.
- After ``max_attempts`` failures the task is published to ``<ns>_dead``
  (``<ns>.dead.<queue>``) with its last error and acked away.
- ``stats``: the server knows ready (never delivered) and pending-ack counts; the
  split of pending-ack into leased / delayed / expired comes from what this
  process leased and nacked, so it is exact in one process and counts other
  processes' delayed tasks as leased.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field

import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from mnemocode.runtime.backends.nats_common import (
    WRONG_LAST_SEQUENCE,
    Connection,
    ack_info,
    dumps,
    loads,
    scan,
    status_of,
    translated_errors,
)
from mnemocode.runtime.backends.nats_leases import (
    Fetcher,
    Held,
    dead_record,
    dead_task,
    keep_alive,
    lease_token,
)
from mnemocode.runtime.protocols import BackendError, Json, Lease, QueueStats, Task
from mnemocode.runtime.subjects import encode_key

_BAND_REFRESH_S = 1.0
_POLL_S = 0.05


@dataclass(slots=True)
class _Bands:
    known: set[int] = field(default_factory=set)
    checked: float = 0.0


def _band(priority: int) -> str:
    return f"p{priority}"


class NatsTaskQueue:
    def __init__(self, conn: Connection, *, max_attempts: int) -> None:
        self._conn, self._max_attempts = conn, max_attempts
        ns = conn.namespace
        self._ns = ns
        self._stream, self._meta_stream, self._dead_stream = (
            f"{ns}_tasks",
            f"{ns}_taskmeta",
            f"{ns}_dead",
        )
        self._ack_waits: dict[str, float] = {}
        self._bands: dict[str, _Bands] = {}
        self._held: dict[str, Held] = {}
        self._nacked: dict[tuple[str, int], float] = {}  # (queue, seq) -> available at
        self._fetchers: dict[str, Fetcher] = {}

    async def setup(self) -> None:
        ns = self._ns
        ensure = self._conn.ensure_stream
        await ensure(
            StreamConfig(
                name=self._stream,
                subjects=[f"{ns}.task.>"],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
            )
        )
        await ensure(
            StreamConfig(
                name=self._meta_stream,
                subjects=[f"{ns}.tmeta.>"],
                max_msgs_per_subject=1,
                storage=StorageType.FILE,
                allow_direct=True,
            )
        )
        await ensure(
            StreamConfig(
                name=self._dead_stream,
                subjects=[f"{ns}.dead.>"],
                storage=StorageType.FILE,
                duplicate_window=120.0,
            )
        )

    async def _publish_dead(self, queue: str, record: Json, stream_seq: int) -> None:
        subject = f"{self._ns}.dead.{encode_key(queue)}"
        once = {"Nats-Msg-Id": f"dead-{stream_seq}"}
        await self._conn.js.publish(subject, dumps(record), headers=once)

    def _subject(self, queue: str, priority: int) -> str:
        return f"{self._ns}.task.{encode_key(queue)}.{_band(priority)}"

    def _meta_subject(self, queue: str, task_id: str) -> str:
        return f"{self._ns}.tmeta.{encode_key(queue)}.{encode_key(task_id)}"

    def _consumer(self, queue: str, priority: int) -> str:
        digest = hashlib.sha256(queue.encode()).hexdigest()[:20]
        return f"t_{digest}_{'n' if priority < 0 else 'p'}{abs(priority)}"

    # ---- enqueue / lease --------------------------------------------------------

    async def enqueue(
        self, queue: str, payload: Json, *, priority: int = 0, task_id: str | None = None
    ) -> str:
        if not queue:
            raise ValueError("queue names are non-empty strings")
        tid = task_id or uuid.uuid4().hex
        body = {"id": tid, "payload": payload, "priority": priority, "enqueued": time.time()}
        async with translated_errors(f"enqueue to {queue!r}"):
            if task_id is not None:
                body["dedupe"] = True
                expect_new = {"Nats-Expected-Last-Subject-Sequence": "0"}
                try:
                    await self._conn.js.publish(
                        self._meta_subject(queue, tid), b"{}", headers=expect_new
                    )
                except nats.js.errors.APIError as exc:
                    if exc.err_code in WRONG_LAST_SEQUENCE:
                        return tid  # that task exists
                    raise
            await self._conn.js.publish(self._subject(queue, priority), dumps(body))
        self._bands.setdefault(queue, _Bands()).known.add(priority)
        return tid

    async def lease(
        self, queue: str, *, visibility: float = 60.0, wait: float = 0.0
    ) -> Lease | None:
        give_up = time.monotonic() + wait
        async with translated_errors(f"lease from {queue!r}"):
            await self._bury_expired_last_attempts(queue)
            while True:
                for refresh in (False, True):
                    for priority in sorted(await self._bands_of(queue, refresh), reverse=True):
                        lease = await self._lease_band(queue, priority, visibility)
                        if lease is not None:
                            return lease
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    return None
                await asyncio.sleep(min(_POLL_S, remaining))

    async def _bands_of(self, queue: str, refresh: bool) -> set[int]:
        bands = self._bands.setdefault(queue, _Bands())
        now = time.monotonic()
        if refresh or now - bands.checked > _BAND_REFRESH_S:
            bands.known |= set((await self._band_counts(queue)).keys())
            bands.checked = now
        return bands.known

    async def _band_counts(self, queue: str) -> dict[int, int]:
        prefix = f"{self._ns}.task.{encode_key(queue)}."
        info = await self._conn.js.stream_info(self._stream, subjects_filter=f"{prefix}>")
        subjects = info.state.subjects or {}
        return {int(subject[len(prefix) + 1 :]): count for subject, count in subjects.items()}

    async def _ensure_consumer(self, queue: str, priority: int, visibility: float) -> str:
        name = self._consumer(queue, priority)
        current = self._ack_waits.get(name)
        if current is not None and current <= visibility:
            return name
        config = ConsumerConfig(
            name=name,
            durable_name=name,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=visibility,
            filter_subject=self._subject(queue, priority),
            max_ack_pending=-1,
            # One delivery beyond the last attempt: whoever leases it dead-letters it,
            # so a task whose final lease expired in a crashed process is not stranded.
            max_deliver=self._max_attempts + 1,
        )
        try:
            info = await self._conn.js.consumer_info(self._stream, name)
            shorter = info.config.ack_wait is None or visibility < info.config.ack_wait
            if shorter:
                await self._conn.js.add_consumer(
                    self._stream, info.config.evolve(ack_wait=visibility)
                )
            self._ack_waits[name] = visibility if shorter else (info.config.ack_wait or visibility)
        except nats.js.errors.NotFoundError:
            await self._conn.js.add_consumer(self._stream, config)
            self._ack_waits[name] = visibility
        return name

    async def _lease_band(self, queue: str, priority: int, visibility: float) -> Lease | None:
        while True:
            name = await self._ensure_consumer(queue, priority, visibility)
            started = time.time()
            msg = await self._fetcher(name).fetch_one()
            if msg is None:
                return None
            status = status_of(msg)
            if status == "503":
                self._ack_waits.pop(name, None)  # the consumer is gone; make it again
                continue
            if status is not None:
                raise BackendError(f"nats: lease from {queue!r} got status {status}")
            held = await self._hold(queue, msg, started + visibility)
            if held.delivered - 1 >= self._max_attempts:
                error = held.task.error or "lease expired"
                await self._dead_letter(held, error, held.delivered - 1)
                continue
            self._held[lease_token(held)] = held
            held.ack_wait = self._ack_waits[name]
            if visibility > held.ack_wait:
                held.keepalive = asyncio.create_task(keep_alive(held))
            return Lease(task=held.task, token=lease_token(held), deadline=held.deadline)

    def _fetcher(self, consumer: str) -> Fetcher:
        fetcher = self._fetchers.get(consumer)
        if fetcher is None:
            fetcher = self._fetchers[consumer] = Fetcher(self._conn, self._stream, consumer)
        return fetcher

    async def _hold(self, queue: str, msg: Msg, deadline: float) -> Held:
        info = ack_info(msg)
        body = loads(msg.data)
        error = ""
        if info.delivered > 1:
            self._nacked.pop((queue, info.stream_seq), None)
            self._forget_older(info.stream_seq)
            meta = await self._meta(queue, body["id"])
            error = str(meta.get("error", ""))
        task = Task(
            id=body["id"],
            queue=queue,
            payload=body["payload"],
            priority=body["priority"],
            attempts=info.delivered - 1,
            enqueued=body["enqueued"],
            error=error,
        )
        return Held(msg, task, info.stream_seq, info.delivered, bool(body.get("dedupe")), deadline)

    def _forget_older(self, stream_seq: int) -> None:
        for token in [t for t, held in self._held.items() if held.stream_seq == stream_seq]:
            stale = self._held.pop(token)
            if stale.keepalive is not None:
                stale.keepalive.cancel()

    async def _meta(self, queue: str, task_id: str) -> Json:
        subject = f"$JS.API.DIRECT.GET.{self._meta_stream}.{self._meta_subject(queue, task_id)}"
        reply = await self._conn.client.request(subject, b"", timeout=5.0)
        if status_of(reply) is not None or not reply.data:
            return {}
        return loads(reply.data)

    # ---- finish -----------------------------------------------------------------

    def _take(self, lease: Lease) -> Held | None:
        held = self._held.pop(lease.token, None)
        if held is None:
            return None
        if held.keepalive is not None:
            held.keepalive.cancel()
        if time.time() >= held.deadline:
            return None  # the server may have handed it to someone else already
        return held

    async def ack(self, lease: Lease) -> bool:
        held = self._take(lease)
        if held is None:
            return False
        async with translated_errors("ack a task"):
            await held.msg.ack_sync(timeout=5.0)
            await self._forget_meta(held)
        return True

    async def nack(self, lease: Lease, *, error: str = "", delay: float | None = None) -> bool:
        held = self._take(lease)
        if held is None:
            return False
        attempts = held.delivered
        async with translated_errors("nack a task"):
            if attempts >= self._max_attempts:
                await self._dead_letter(held, error, attempts)
                return True
            if delay is None:
                delay = min(2**attempts, 60) * 0.1
            meta = self._meta_subject(held.task.queue, held.task.id)
            await self._conn.js.publish(meta, dumps({"error": error}))
            nak = b"-NAK " + json.dumps({"delay": int(delay * 1e9)}).encode()
            await self._conn.client.request(held.msg.reply, nak, timeout=5.0)
        self._nacked[(held.task.queue, held.stream_seq)] = time.time() + delay
        return True

    async def extend(self, lease: Lease, visibility: float) -> Lease | None:
        held = self._held.get(lease.token)
        if held is None or time.time() >= held.deadline:
            return None
        async with translated_errors("extend a lease"):
            await held.msg.in_progress()
        held.deadline = time.time() + visibility
        if held.keepalive is not None:
            held.keepalive.cancel()
            held.keepalive = None
        if visibility > held.ack_wait:
            held.keepalive = asyncio.create_task(keep_alive(held))
        return Lease(task=held.task, token=lease.token, deadline=held.deadline)

    async def _dead_letter(self, held: Held, error: str, attempts: int) -> None:
        record = dead_record(held.task, error, attempts)
        await self._publish_dead(held.task.queue, record, held.stream_seq)
        await held.msg.ack_sync(timeout=5.0)
        await self._forget_meta(held)

    async def _forget_meta(self, held: Held) -> None:
        self._nacked.pop((held.task.queue, held.stream_seq), None)
        if held.dedupe or held.delivered > 1:
            subject = self._meta_subject(held.task.queue, held.task.id)
            await self._conn.js.purge_stream(self._meta_stream, subject=subject)

    async def close(self) -> None:
        for held in self._held.values():
            if held.keepalive is not None:
                held.keepalive.cancel()
        self._held.clear()
        for fetcher in self._fetchers.values():
            await fetcher.close()
        self._fetchers.clear()

    # ---- inspect ----------------------------------------------------------------

    async def _bury_expired_last_attempts(self, queue: str) -> None:
        """A lease on its last attempt that expired in this process is dead now (were it
        redelivered first, that lease dead-letters it; the dead stream dedupes)."""
        now = time.time()
        final = [
            (token, held)
            for token, held in self._held.items()
            if held.task.queue == queue
            and held.deadline <= now
            and held.delivered >= self._max_attempts
        ]
        for token, held in final:
            self._held.pop(token, None)
            if held.keepalive is not None:
                held.keepalive.cancel()
            record = dead_record(held.task, held.task.error or "lease expired", held.delivered)
            await self._publish_dead(queue, record, held.stream_seq)
            with suppress(nats.js.errors.NotFoundError):
                await self._conn.js.delete_msg(self._stream, held.stream_seq)
            await self._forget_meta(held)

    async def dead_letters(self, queue: str) -> list[Task]:
        subject = f"{self._ns}.dead.{encode_key(queue)}"
        async with translated_errors(f"read dead letters of {queue!r}"):
            await self._bury_expired_last_attempts(queue)
            messages = await scan(self._conn, self._dead_stream, subject, last_per_subject=False)
        return [dead_task(queue, loads(msg.data)) for msg in messages]

    async def stats(self, queue: str) -> QueueStats:
        async with translated_errors(f"stats of {queue!r}"):
            await self._bury_expired_last_attempts(queue)
            counts = await self._band_counts(queue)
            pending_ack = 0
            for priority in counts:
                try:
                    info = await self._conn.js.consumer_info(
                        self._stream, self._consumer(queue, priority)
                    )
                except nats.js.errors.NotFoundError:
                    continue
                pending_ack += info.num_ack_pending
            dead_subject = f"{self._ns}.dead.{encode_key(queue)}"
            dead_info = await self._conn.js.stream_info(
                self._dead_stream, subjects_filter=dead_subject
            )
        now = time.time()
        nacked = [at for (q, _), at in self._nacked.items() if q == queue]
        delayed = sum(1 for at in nacked if at > now)
        due = len(nacked) - delayed
        expired = sum(1 for h in self._held.values() if h.task.queue == queue and h.deadline <= now)
        total = sum(counts.values())
        leased = max(0, pending_ack - delayed - due - expired)
        return QueueStats(
            ready=total - leased - delayed,
            leased=leased,
            delayed=delayed,
            dead=(dead_info.state.subjects or {}).get(dead_subject, 0),
        )
