"""One code map per session, built off the critical path.

Every use of the ``CodeMap`` (its construction included) runs on one daemon
thread, in order: start-up only queues the build, the first ``code_map`` call or
``/map`` waits for it, and the map's SQLite cache is only ever touched from the
thread that opened it. A build that fails is reported by the call that needed it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mnemocode.agent.codemap.types import Focus
from mnemocode.core.events import AgentEvent, Notice

if TYPE_CHECKING:
    from mnemocode.agent.codemap import CodeMap
    from mnemocode.config.settings import CodeMapConfig

T = TypeVar("T")
CACHE_FILE = "codemap.db"
# Windows at or below this (the compact tool set's) get no map in the first request.
SMALL_WINDOW = 16_384
# The first request's map takes at most this share of the context window.
FIRST_REQUEST_SHARE = 0.05


class MapWorker:
    """A daemon thread running submitted functions one after the other."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to whoever waits for it
                future.set_exception(exc)
            del item, job, future  # waiting for the next job must not keep this one's owner


class SessionMap:
    """The session's ``CodeMap`` of ``root``; ``start`` queues the build."""

    def __init__(
        self, root: Path, *, cache_path: Path | None, tokens: int, max_file_bytes: int
    ) -> None:
        self.root = root.resolve()
        self.cache_path = cache_path
        self.tokens = tokens
        self.max_file_bytes = max_file_bytes
        self._map: CodeMap | None = None
        self._worker: MapWorker | None = None

    def start(self) -> Future[int]:
        """Build the map (file list and tags) in the background; the future holds
        how many files it covers."""
        return self._submit(self._build)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def _submit(self, job: Callable[[], T]) -> Future[T]:
        if self._worker is None:
            self._worker = MapWorker("mnemo-codemap")
            # A session dropped without close() (a replaced App) ends its thread too.
            weakref.finalize(self, self._worker.stop)
        return self._worker.submit(job)

    async def run(self, job: Callable[[CodeMap], T]) -> T:
        """``job(code_map)`` on the map's thread, once the map is built."""
        return await asyncio.wrap_future(self._submit(lambda: job(self._built())))

    def _built(self) -> CodeMap:
        if self._map is None:
            self._build()
        assert self._map is not None
        return self._map

    def _build(self) -> int:
        if self._map is None:
            from mnemocode.agent.codemap import CodeMap

            if self.cache_path is not None:
                self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            self._map = CodeMap(
                self.root, cache_path=self.cache_path, max_file_bytes=self.max_file_bytes
            )
            self._map.prepare()  # parses every file: later maps only rank
        return len(self._map.selection().files)

    def relative(self, paths: Sequence[str]) -> list[str]:
        """``paths`` (absolute, or relative to the root) that lie inside the root,
        relative to it and posix; ``file_read``'s ``#L1-9`` suffixes dropped."""
        found: list[str] = []
        for raw in paths:
            path = Path(raw.split("#L", 1)[0])
            full = path if path.is_absolute() else self.root / path
            try:
                rel = full.resolve().relative_to(self.root).as_posix()
            except ValueError:
                continue
            if rel != "." and rel not in found:
                found.append(rel)
        return found


def focus_for(code_map: CodeMap, root: Path, text: str, chat_files: Sequence[str] = ()) -> Focus:
    """The focus of ``text`` (a task, a query) with ``chat_files`` in the conversation
    and the files changed in the work tree."""
    from mnemocode.agent.codemap.changes import changed_files

    if root.resolve() == code_map.root:
        focus = code_map.focus(text, chat_files)
    else:
        from mnemocode.agent.codemap.focus import focus_from_text

        files = code_map.selection().files
        focus = focus_from_text(text, root=root, files=files, chat_files=chat_files)
    changed = changed_files(code_map.root)
    return dataclasses.replace(focus, changed=changed) if changed else focus


def first_request_budget(configured: int, window: int) -> int:
    """Tokens of the map in the first request for a ``window``-token model: none for
    a small window, else the configured budget within a share of the window."""
    if window <= SMALL_WINDOW:
        return 0
    return min(configured, int(window * FIRST_REQUEST_SHARE))


def first_request_section(
    code_map: CodeMap, root: Path, task: str, *, tokens: int, min_files: int, tool: bool
) -> str:
    """The map in the first request's system prompt, focused on the first task;
    "" when the repository is small enough to list (``min_files``) or it is off."""
    if tokens <= 0 or len(code_map.selection().files) <= min_files:
        return ""
    rendered = code_map.render(focus_for(code_map, root, task), tokens=tokens)
    if not rendered.strip():
        return ""
    more = " (code_map shows more, focused on a query, a path or a symbol)" if tool else ""
    return (
        "Code map: the repository's files and definitions most relevant to the first "
        f"task, best first, elided{more}:\n{rendered.rstrip()}"
    )


def open_session_map(config: CodeMapConfig, workdir: Path, state_dir: Path) -> SessionMap | None:
    """The session's code map, its build started (nothing waits for it); its tag
    cache is the project's, so it outlives the session. None when the map is off."""
    if config.tokens == 0:
        return None
    code_map = SessionMap(
        workdir, cache_path=state_dir / CACHE_FILE, tokens=config.tokens,
        max_file_bytes=config.max_file_bytes,
    )  # fmt: skip
    code_map.start()
    return code_map


async def first_request_map(
    code_map: SessionMap,
    config: CodeMapConfig,
    task: str,
    *,
    window: int,
    tool: bool,
    emit: Callable[[AgentEvent], None],
) -> str:
    """The first request's map section ("" for none). A build that is not ready
    within ``first_request_wait_s`` is not waited for, and a failure is a notice:
    the map is an extra, the turn goes on without it."""
    tokens = first_request_budget(config.first_request_tokens, window)
    if tokens == 0:
        return ""
    root, min_files = code_map.root, config.first_request_min_files
    try:
        return await asyncio.wait_for(
            code_map.run(
                lambda cm: first_request_section(
                    cm, root, task, tokens=tokens, min_files=min_files, tool=tool
                )
            ),
            timeout=config.first_request_wait_s,
        )
    except TimeoutError:
        emit(
            Notice(
                "info",
                "The code map is still being built: the first request goes without it "
                "(code_map and /map will use it once it is ready).",
            )
        )
    except Exception as exc:
        emit(Notice("warning", f"no code map in this request: {exc}"))
    return ""
