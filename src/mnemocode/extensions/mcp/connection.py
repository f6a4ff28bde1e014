"""One MCP server's lifecycle, through the SDK's ``mcp.Client``.

The client lives in a task of its own (``_hold``): the SDK's transports are anyio
task groups, which must be entered and left in the same task, while calls come
from the agent's tasks. The client negotiates the newest protocol revision and
falls back to the ``initialize`` handshake (``mode="auto"``); legacy SSE servers
get the handshake directly.

A server that does not answer within its start timeout, or whose process exits,
is marked failed with the reason (and the tail of its stderr, kept in a log file
so it never garbles the terminal); the next call starts it again. A call that
outlives its timeout, or whose awaiting task is cancelled (Ctrl-C), is cancelled
on its own: the server and the session go on. ``stop`` ends a stdio server's whole
process group (the SDK starts it in a session of its own and kills the group).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar

from mnemocode.core.errors import MnemoError
from mnemocode.extensions.mcp.catalog import Catalog, list_catalog
from mnemocode.extensions.mcp.config import ServerSpec

if TYPE_CHECKING:
    from mcp import Client
    from mcp.client._transport import TransportStreams
    from mcp_types import CallToolResult, Tool

Status = Literal["stopped", "starting", "ready", "failed"]
T = TypeVar("T")
_STDERR_TAIL = 600
_TOOL_PAGES = 50  # a paginator that never ends cannot hang a start
# Set in a stdio server's environment to find its process (group) again.
_MARKER_ENV = "MNEMO_MCP_SERVER"


class McpServerError(MnemoError):
    """A server could not start, died, or a call to it failed or timed out."""


@dataclass(slots=True)
class ServerConnection:
    spec: ServerSpec
    workdir: Path
    log_dir: Path | None = None
    status: Status = "stopped"
    tools: list[Tool] = field(default_factory=list)
    catalog: Catalog = field(default_factory=Catalog)
    last_error: str = ""
    protocol: str = ""
    # A failure not yet told to the user (``take_report``): each is said once.
    _unreported: str = ""
    _client: Client | None = None
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event | None = None
    _starting: asyncio.Future[None] | None = None
    _http_errors: list[int] = field(default_factory=list)

    async def start(self) -> None:
        """Connect (once; concurrent callers share the attempt). Raises
        ``McpServerError`` with the reason if it does not come up."""
        if self.status == "ready" and self._task is not None and not self._task.done():
            return
        if self._starting is None or self._starting.done():
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        if self.spec.problem:
            self._fail(self.spec.problem)
        await self._halt()
        self.status = "starting"
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(
            self._hold(ready, self._stop), name=f"mcp:{self.spec.name}"
        )
        try:
            async with asyncio.timeout(self.spec.start_timeout_s):
                await asyncio.shield(ready)
        except TimeoutError:
            await self._halt()
            self._fail(f"did not start within {self.spec.start_timeout_s:g} s")
        except McpServerError as exc:
            await self._halt()
            self._fail(str(exc))
        self.status, self.last_error = "ready", ""

    async def _hold(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        """The client's task: connect, list the tools, then wait for ``stop``."""
        marker = f"{self.spec.name}:{uuid.uuid4().hex}"
        group: int | None = None
        try:
            async with self._client_for(self.spec, marker) as client:
                group = _leader_of(marker) if self.spec.transport == "stdio" else None
                self.tools = await _list_tools(client)
                self.catalog = await list_catalog(client)
                self.protocol = client.protocol_version
                self._client = client
                ready.set_result(None)
                await stop.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the SDK raises groups; the reason is inside
            if not ready.done():
                why = _reason(exc) + self._stderr_tail() + self._refused()
                _settle(ready, McpServerError(why))
            else:
                self._died(_reason(exc))
        finally:
            self._client = None
            if group is not None:
                await _end_group(group)
            if not ready.done():
                _settle(ready, McpServerError("stopped while starting"))

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        return await self.request(tool, lambda client: client.call_tool(tool, arguments))

    async def request(self, what: str, send: Callable[[Client], Awaitable[T]]) -> T:
        """``send(client)`` (a tool call, a resource read, a prompt) with the call
        timeout; the server is started first if it is not up. ``what`` names it in
        messages."""
        if self.status != "ready" or self._client is None:
            await self.start()
        client = self._client
        if client is None:
            raise McpServerError(f"MCP server {self.spec.name!r} is not running")
        try:
            async with asyncio.timeout(self.spec.call_timeout_s):
                return await send(client)
        except TimeoutError:
            raise McpServerError(
                f"{what} on MCP server {self.spec.name!r} did not answer within "
                f"{self.spec.call_timeout_s:g} s ([mcp] call_timeout_s); the call was cancelled"
            ) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._task is None or self._task.done() or _connection_lost(exc):
                log = self._stderr_path()
                self._died(_reason(exc) + (f" (its stderr: {log})" if log else ""))
                raise McpServerError(
                    f"MCP server {self.spec.name!r} stopped during the call ({self.last_error});"
                    " it is restarted at the next call"
                ) from exc
            raise McpServerError(
                f"{what} on MCP server {self.spec.name!r}: {_reason(exc)}"
            ) from exc

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def stop(self) -> None:
        await self._halt()
        self.status = "stopped"

    async def _halt(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if self._stop is not None:
            self._stop.set()
        with contextlib.suppress(BaseException):
            # The SDK's shutdown is bounded (close stdin, SIGTERM, then SIGKILL the group).
            async with asyncio.timeout(10):
                await asyncio.shield(task)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    def take_report(self) -> str:
        """The failure not told yet ("" if none), and forget it."""
        said, self._unreported = self._unreported, ""
        return said

    def _fail(self, reason: str) -> None:
        self.status, self.last_error = "failed", reason
        self._unreported = f"MCP server {self.spec.name!r} failed to start: {reason}"
        raise McpServerError(self._unreported)

    def _died(self, reason: str) -> None:
        if self.status == "failed":
            return
        self.status, self.last_error = "failed", reason
        self._unreported = (
            f"MCP server {self.spec.name!r} stopped: {reason}; it restarts on next use"
        )

    # ---- transports ----------------------------------------------------------------

    def _client_for(self, spec: ServerSpec, marker: str) -> Client:
        from mcp import Client
        from mcp_types import Implementation

        from mnemocode import __version__

        info = Implementation(name="mnemo", version=__version__)
        mode = "legacy" if spec.transport == "sse" else "auto"
        return Client(self._transport(spec, marker), mode=mode, client_info=info, cache=None)

    def _transport(self, spec: ServerSpec, marker: str) -> Any:
        if spec.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters

            params = StdioServerParameters(
                command=spec.command,
                args=list(spec.args),
                env={**spec.env, _MARKER_ENV: marker},
                cwd=spec.cwd or self.workdir,
            )
            return _stdio(params, self._stderr_path())
        return _http(spec, self._http_errors)

    def _refused(self) -> str:
        """The HTTP error statuses the server answered with (the SDK keeps only its
        own wording), with a hint for the authentication ones."""
        if not self._http_errors:
            return ""
        codes = sorted(set(self._http_errors))
        self._http_errors.clear()
        hint = " (check the token in its headers)" if {401, 403} & set(codes) else ""
        return f"; the server answered HTTP {', '.join(map(str, codes))}{hint}"

    def _stderr_path(self) -> Path | None:
        if self.log_dir is None:
            return None
        return self.log_dir / f"mcp-{self.spec.name}.log"

    def _stderr_tail(self) -> str:
        path = self._stderr_path()
        if path is None or self.spec.transport != "stdio":
            return ""
        try:
            with path.open("rb") as log:
                log.seek(0, 2)
                size = log.tell()
                log.seek(max(0, size - _STDERR_TAIL))
                tail = log.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
        last = tail.splitlines()[-5:]
        return f"; its stderr ({path}): " + " | ".join(last) if last else ""


@contextlib.asynccontextmanager
async def _stdio(params: Any, stderr_path: Path | None) -> AsyncIterator[TransportStreams]:
    from mcp.client.stdio import stdio_client

    errlog: TextIO
    if stderr_path is not None:
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        errlog = stderr_path.open("w", encoding="utf-8")
    else:
        # Opening /dev/null does not block; closed below.
        errlog = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115, ASYNC230
    try:
        async with stdio_client(params, errlog=errlog) as streams:
            yield streams
    finally:
        errlog.close()


@contextlib.asynccontextmanager
async def _http(spec: ServerSpec, errors: list[int]) -> AsyncIterator[TransportStreams]:
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def note(response: Any) -> None:
        if response.status_code >= 400:
            errors.append(response.status_code)

    headers = dict(spec.headers) or None
    auth = None
    if spec.oauth_file:
        from mnemocode.extensions.mcp.oauth import session_auth

        auth = session_auth(spec, Path(spec.oauth_file))
    if spec.transport == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(spec.url, headers=headers, auth=auth) as streams:
            yield streams
        return
    from mcp.client.streamable_http import streamable_http_client

    http = create_mcp_http_client(headers=headers, auth=auth)
    if auth is None:  # with OAuth a 401 is the start of a login, not a wrong header
        http.event_hooks["response"].append(note)
    async with http, streamable_http_client(spec.url, http_client=http) as streams:
        yield streams


async def _list_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _leader_of(marker: str) -> int | None:
    """Our child process started with ``marker`` in its environment: the leader of the
    server's process group (the SDK starts it in a session of its own) — Linux /proc."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] != me:
                continue
            environ = (stat.parent / "environ").read_bytes()
        except (OSError, IndexError):
            continue
        if f"{_MARKER_ENV}={marker}".encode() in environ.split(b"\0"):
            return int(stat.parent.name)
    return None


async def _end_group(group: int) -> None:
    """What is left of the server's process group after the SDK's shutdown (which
    stops only the leader when it exits by itself): SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            return
        for _ in range(40):
            await asyncio.sleep(0.05)
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                break


def _settle(ready: asyncio.Future[None], error: McpServerError) -> None:
    ready.set_exception(error)
    ready.exception()  # retrieved: a start that timed out no longer awaits it


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _reason(exc: BaseException) -> str:
    """The innermost errors of an exception group, in words."""
    parts = []
    for leaf in _leaves(exc):
        text = str(leaf) or type(leaf).__name__
        if isinstance(leaf, FileNotFoundError) and leaf.filename:
            text = f"command not found: {leaf.filename}"
        elif not isinstance(leaf, MnemoError):  # ours are already in words
            text = f"{type(leaf).__name__}: {text}" if str(leaf) else text
        parts.append(text)
    return "; ".join(dict.fromkeys(parts))


def _connection_lost(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED

    for leaf in _leaves(exc):
        if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
            return True
        if isinstance(leaf, ConnectionError | EOFError | OSError):
            return True
    return False
