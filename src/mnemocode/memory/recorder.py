"""Writing the transcript off the agent's path: messages are handed to a
background thread that stores them in batches (one transaction per batch, on its
own connection), so a turn never waits for the disk.

Anything that reads the transcript back first calls ``flush``. A process killed
with ``kill -9`` loses at most the messages of the last few milliseconds; a
normal exit flushes (``close``, and an ``atexit`` hook as a last resort).
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnemocode.core.types import Message
from mnemocode.memory.db import connect
from mnemocode.memory.migrations import PROJECT_MIGRATIONS
from mnemocode.memory.sessions import SessionStore


@dataclass(slots=True)
class _Item:
    session_id: str
    turn: int
    message: Message
    at: float


class TranscriptRecorder:
    def __init__(self, db_path: Path, clock: Callable[[], float]) -> None:
        self._path, self._clock = db_path, clock
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._pending = 0
        self._done = threading.Condition()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="mnemo-transcript", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def add(self, session_id: str, turn: int, message: Message) -> None:
        with self._done:
            self._pending += 1
        self._queue.put(_Item(session_id, turn, message, self._clock()))

    def flush(self) -> None:
        """Wait until everything added so far is stored (however loaded the machine:
        no timeout that would return with messages unwritten, as long as the writer
        is alive)."""
        with self._done:
            while self._pending and self._thread.is_alive():
                self._done.wait(timeout=1.0)
            if self._pending and self.error is None:
                self.error = RuntimeError(f"the writer stopped with {self._pending} unwritten")

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=5)
        atexit.unregister(self.close)

    def _run(self) -> None:
        try:
            conn = connect(self._path, PROJECT_MIGRATIONS)
        except Exception as exc:  # reported by the next flush
            self.error = exc
            return
        store = SessionStore(conn, clock=self._clock)
        try:
            while (first := self._queue.get()) is not None:
                batch = [first]
                stop = False
                while True:  # take whatever else is waiting: one transaction for all
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                self._store(store, batch)
                if stop:
                    break
        finally:
            conn.close()

    def _store(self, store: SessionStore, batch: list[_Item]) -> None:
        try:
            # Consecutive messages of one session and turn go in one append call.
            groups: list[list[_Item]] = []
            for item in batch:
                last = groups[-1][-1] if groups else None
                same = last and (last.session_id, last.turn) == (item.session_id, item.turn)
                if same:
                    groups[-1].append(item)
                else:
                    groups.append([item])
            for group in groups:
                head = group[0]
                store.append(head.session_id, head.turn, [i.message for i in group], at=head.at)
        except Exception as exc:  # kept for the caller to report; the agent goes on
            self.error = exc
        finally:
            with self._done:
                self._pending -= len(batch)
                self._done.notify_all()
