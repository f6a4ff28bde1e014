"""StateStore on a JetStream key-value bucket.

The bucket is the namespace (stream ``KV_<ns>``, subjects ``$KV.<ns>.<key>``, the
last 64 revisions kept per key so that watchers see every write), so ``nats kv``
tools can read it. Keys are stored as ``subjects.encode_key`` tokens and handed
back decoded; a revision is the stream
sequence of the key's last write. CAS uses ``Nats-Expected-Last-Subject-Sequence``.

TTL: NATS per-message TTL (``Nats-TTL``) counts whole seconds, while ours is any
float. So a put with a TTL carries its exact expiry in a ``Mnemo-Expires`` header,
which reads and listings honour, and asks the server to remove the message a
second or two later. ``cas`` reads the key first, so an expired entry behaves as
missing there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    StorageType,
    StreamConfig,
)

from mnemocode.runtime.backends.nats_common import (
    WRONG_LAST_SEQUENCE,
    Connection,
    Puller,
    ack_info,
    dumps,
    loads,
    scan,
    translated_errors,
)
from mnemocode.runtime.protocols import (
    BackendError,
    ConflictError,
    Json,
    StateChange,
    StateEntry,
)
from mnemocode.runtime.subjects import decode_key, encode_key

# Revisions kept per key: with only the last one, a watcher that has not read a
# write yet when the next one lands never sees it (the stream drops it first).
_HISTORY = 64
_EXPIRES = "Mnemo-Expires"
_KV_OPERATION = "KV-Operation"
_MARKER_REASON = "Nats-Marker-Reason"
_EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"


def _is_removal(headers: dict[str, str] | None) -> bool:
    if not headers:
        return False
    return headers.get(_KV_OPERATION) in ("DEL", "PURGE") or _MARKER_REASON in headers


def _is_live(headers: dict[str, str] | None) -> bool:
    if not headers:
        return True
    if _is_removal(headers):
        return False
    expires = headers.get(_EXPIRES)
    return expires is None or float(expires) > time.time()


class NatsStateStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.stream = f"KV_{conn.namespace}"
        self._prefix = f"$KV.{conn.namespace}."
        self.setting_up: set[asyncio.Task[None]] = set()

    async def setup(self) -> None:
        await self._conn.ensure_stream(
            StreamConfig(
                name=self.stream,
                subjects=[f"{self._prefix}>"],
                max_msgs_per_subject=_HISTORY,
                discard=DiscardPolicy.NEW,
                storage=StorageType.FILE,
                allow_rollup_hdrs=True,
                deny_delete=True,
                allow_direct=True,
                allow_msg_ttl=True,
            )
        )

    def _subject(self, key: str) -> str:
        if not key:
            raise ValueError("state keys are non-empty strings")
        return self._prefix + encode_key(key)

    async def _last(self, subject: str) -> Msg | None:
        """The key's last message, whatever it is (value, delete marker, expired)."""
        request = f"$JS.API.DIRECT.GET.{self.stream}.{subject}"
        reply = await self._conn.client.request(request, b"", timeout=self._conn.js._timeout)
        status = reply.headers.get("Status") if reply.headers else None
        if status == "404":
            return None
        if status is not None:
            raise BackendError(f"nats: reading {subject!r} failed with status {status}")
        return reply

    async def get(self, key: str) -> StateEntry | None:
        async with translated_errors(f"get {key!r}"):
            msg = await self._last(self._subject(key))
        if msg is None or not _is_live(msg.headers):
            return None
        return StateEntry(key=key, value=loads(msg.data), revision=_revision(msg))

    async def put(self, key: str, value: Json, *, ttl: float | None = None) -> int:
        subject = self._subject(key)
        if self.setting_up:
            await asyncio.wait(self.setting_up)
        async with translated_errors(f"put {key!r}"):
            ack = await self._conn.js.publish(subject, dumps(value), headers=_ttl_headers(ttl))
        return ack.seq

    async def cas(self, key: str, value: Json, expected: int, *, ttl: float | None = None) -> int:
        subject = self._subject(key)
        if self.setting_up:
            await asyncio.wait(self.setting_up)
        async with translated_errors(f"cas {key!r}"):
            last = await self._last(subject)
            live = last is not None and _is_live(last.headers)
            actual = _revision(last) if last is not None and live else 0
            if actual != expected:
                raise ConflictError(key, expected, actual or None)
            headers = _ttl_headers(ttl) or {}
            headers[_EXPECTED_LAST] = str(_revision(last) if last is not None else 0)
            try:
                ack = await self._conn.js.publish(subject, dumps(value), headers=headers)
            except nats.js.errors.APIError as exc:
                if exc.err_code not in WRONG_LAST_SEQUENCE:
                    raise
                now = await self.get(key)
                raise ConflictError(key, expected, now.revision if now else None) from exc
        return ack.seq

    async def delete(self, key: str) -> bool:
        subject = self._subject(key)
        if self.setting_up:
            await asyncio.wait(self.setting_up)
        async with translated_errors(f"delete {key!r}"):
            last = await self._last(subject)
            if last is None or _is_removal(last.headers):
                return False
            await self._conn.js.publish(subject, b"", headers={_KV_OPERATION: "DEL"})
        return _is_live(last.headers)

    async def keys(self, prefix: str = "") -> list[str]:
        async with translated_errors("list keys"):
            messages = await scan(
                self._conn,
                self.stream,
                f"{self._prefix}>",
                last_per_subject=True,
                headers_only=True,
            )
        found = []
        for msg in messages:
            if _is_live(msg.headers):
                key = decode_key(msg.subject[len(self._prefix) :])
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    def watch(self, key: str, *, prefix: bool = False) -> AsyncIterator[StateChange]:
        if prefix:
            watch = StateWatch(self, self._conn, f"{self._prefix}>", key)
        else:
            watch = StateWatch(self, self._conn, self._subject(key), None)
        return watch.changes()

    def change_of(self, msg: Msg) -> StateChange:
        key = decode_key(msg.subject[len(self._prefix) :])
        revision = ack_info(msg).stream_seq
        if _is_removal(msg.headers):
            return StateChange(key=key, op="delete", value=None, revision=revision)
        return StateChange(key=key, op="put", value=loads(msg.data), revision=revision)


def _revision(msg: Msg) -> int:
    assert msg.headers is not None
    return int(msg.headers["Nats-Sequence"])


def _ttl_headers(ttl: float | None) -> dict[str, str] | None:
    if ttl is None:
        return None
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    # The server's copy goes a little after ours; whole seconds, at least 1.
    return {_EXPIRES: repr(time.time() + ttl), "Nats-TTL": str(math.ceil(ttl) + 1)}


class StateWatch:
    """Changes after the watch started, from an ephemeral consumer (no acks)."""

    def __init__(
        self, store: NatsStateStore, conn: Connection, subject: str, key_prefix: str | None
    ) -> None:
        self._store, self._conn = store, conn
        self._subject, self._key_prefix = subject, key_prefix
        self._next_seq = 0
        # Writes stored after this moment are "after the watch started", from any
        # process (server and clients share a clock, to within NTP's skew).
        self._started = datetime.now(UTC)
        self._puller: Puller | None = None
        self._ready = asyncio.get_running_loop().create_task(self._setup())
        store.setting_up.add(self._ready)
        self._ready.add_done_callback(store.setting_up.discard)

    async def _setup(self) -> None:
        async with translated_errors(f"watch {self._subject!r}"):
            name = await self._create_consumer()
            puller = Puller(
                self._conn, self._store.stream, name, batch=64, recover=self._create_consumer
            )
            await puller.start()
        self._puller = puller

    async def _create_consumer(self) -> str:
        if self._next_seq:
            policy, start, since = DeliverPolicy.BY_START_SEQUENCE, self._next_seq, None
        else:
            policy, start, since = DeliverPolicy.BY_START_TIME, None, self._started
        config = ConsumerConfig(
            deliver_policy=policy,
            opt_start_seq=start,
            opt_start_time=since,
            ack_policy=AckPolicy.NONE,
            filter_subject=self._subject,
            inactive_threshold=300.0,
            mem_storage=True,
        )
        info = await self._conn.js.add_consumer(self._store.stream, config)
        assert info.name is not None
        return info.name

    async def changes(self) -> AsyncIterator[StateChange]:
        try:
            await self._ready
            puller = self._puller
            assert puller is not None
            while True:
                msg = await puller.next()
                if msg is None:
                    continue
                change = self._store.change_of(msg)
                if change.revision < self._next_seq:
                    continue
                self._next_seq = change.revision + 1
                if self._key_prefix is None or change.key.startswith(self._key_prefix):
                    yield change
        finally:
            await self._close()

    async def _close(self) -> None:
        if not self._ready.done():
            self._ready.cancel()
        puller = self._puller
        if puller is not None:
            await puller.close()
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await self._conn.js.delete_consumer(self._store.stream, puller.consumer)
