"""One server's life with servers of our own (servers/toy.py): killed mid-call, too
slow, cancelled, failing to start, hanging at start, HTTP with a bearer token, lazy
start, and every process stopped at the end."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mnemocode.core.events import AgentEvent, Notice
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult
from mnemocode.extensions.mcp.config import ServerSpec
from mnemocode.extensions.mcp.toolset import McpToolset
from mnemocode.safety.sandbox import LocalSandbox
from tests.extensions.mcp.client_support import TOY, listening, toy


def _ctx(tmp_path: Path, events: list[AgentEvent] | None = None) -> ToolContext:
    sink = events if events is not None else []
    return ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), emit=sink.append)


async def _call(ts: McpToolset, ctx: ToolContext, name: str, **args: object) -> ToolResult:
    return await ts.call(ToolCall("c1", f"mcp__toy__{name}", dict(args)), ctx)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


async def test_a_server_killed_mid_call_is_reported_once_and_restarted(tmp_path: Path) -> None:
    ts = McpToolset([toy()], workdir=tmp_path, state_dir=tmp_path / "state")
    events: list[AgentEvent] = []
    ctx = _ctx(tmp_path, events)
    try:
        await ts.start()
        first = int((await _call(ts, ctx, "pid")).text)
        died = await _call(ts, ctx, "die")
        assert died.is_error and "stopped during the call" in died.text
        assert "restarted at the next call" in died.text
        notices = [e for e in events if isinstance(e, Notice)]
        assert len(notices) == 1 and "'toy' stopped" in notices[0].message
        assert ts.connections["toy"].last_error
        again = await _call(ts, ctx, "pid")
        assert not again.is_error and int(again.text) != first
        assert len([e for e in events if isinstance(e, Notice)]) == 1  # said once
        assert ts.connections["toy"].status == "ready"
    finally:
        await ts.aclose()


async def test_a_hung_call_is_cancelled_at_its_timeout_and_the_server_goes_on(
    tmp_path: Path,
) -> None:
    ts = McpToolset([toy(call_timeout_s=1.0)], workdir=tmp_path)
    ctx = _ctx(tmp_path)
    try:
        await ts.start()
        slow = await _call(ts, ctx, "slow", seconds=30)
        assert slow.is_error and "did not answer within 1 s" in slow.text
        assert (await _call(ts, ctx, "echo", text="still here")).text == "echo: still here"
    finally:
        await ts.aclose()


async def test_cancelling_the_awaiting_task_cancels_only_the_call(tmp_path: Path) -> None:
    ts = McpToolset([toy()], workdir=tmp_path)
    ctx = _ctx(tmp_path)
    try:
        await ts.start()
        task = asyncio.ensure_future(_call(ts, ctx, "slow", seconds=30))
        await asyncio.sleep(0.5)
        task.cancel()  # what Ctrl-C does to the turn
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await _call(ts, ctx, "echo", text="after")).text == "echo: after"
    finally:
        await ts.aclose()


async def test_a_server_that_fails_to_start_says_why_and_the_others_run(tmp_path: Path) -> None:
    missing = ServerSpec("ghost", "stdio", "config", "test", command="no-such-mcp-server")
    broken = toy("broken", "--fail")
    hangs = toy("hangs", "--hang", start_timeout_s=1.0)
    ts = McpToolset([missing, broken, hangs, toy()], workdir=tmp_path, state_dir=tmp_path / "s")
    try:
        reports = await ts.start()
        joined = "\n".join(reports)
        assert len(reports) == 3
        assert "'ghost' failed to start: command not found: no-such-mcp-server" in joined
        assert "'broken' failed to start" in joined and "cannot open the database" in joined
        assert "'hangs' failed to start: did not start within 1 s" in joined
        assert await ts.start() == []  # said once
        names = {s.name for s in ts.specs()}
        assert "mcp__toy__echo" in names and not any("broken" in n for n in names)
        result = await ts.call(ToolCall("c", "mcp__toy__echo", {"text": "ok"}), _ctx(tmp_path))
        assert result.text == "echo: ok"
    finally:
        await ts.aclose()


async def test_stopping_ends_the_whole_process_group(tmp_path: Path) -> None:
    # The server's shell starts a child that would outlive a plain kill of the shell.
    marker = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {marker}; exec {sys.executable} {TOY}"
    spec = ServerSpec("toy", "stdio", "config", "test", command="sh", args=("-c", script))
    ts = McpToolset([spec], workdir=tmp_path)
    await ts.start()
    server = int((await _call(ts, _ctx(tmp_path), "pid")).text)
    child = int(marker.read_text())
    assert _alive(server) and _alive(child)
    await ts.aclose()
    deadline = time.monotonic() + 10
    while (_alive(server) or _alive(child)) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    assert not _alive(server) and not _alive(child)


@pytest.fixture
def http_toy() -> Iterator[str]:
    with listening([sys.executable, TOY, "--token", "s3cret-token", "--http"]) as port:
        yield f"http://127.0.0.1:{port}/mcp"


async def test_a_legacy_sse_server(tmp_path: Path) -> None:
    from mnemocode.config.settings import McpConfig, McpServerConfig
    from mnemocode.extensions.mcp.config import load_servers

    with listening([sys.executable, TOY, "--sse"]) as port:
        url = f"http://127.0.0.1:{port}/sse"
        config = McpConfig(servers={"old": McpServerConfig(type="sse", url=url)})
        found = load_servers(config, project_root=None, mnemo_home=tmp_path, env={}, trusted=True)
        tools = McpToolset(found.specs, workdir=tmp_path)
        try:
            assert await tools.start() == []
            [connection] = tools.connections.values()
            assert connection.protocol == "2025-11-25"  # the handshake: SSE predates discover
            call = ToolCall("c", "mcp__old__echo", {"text": "over sse"})
            result = await tools.call(call, _ctx(tmp_path))
            assert not result.is_error and result.text == "echo: over sse"
        finally:
            await tools.aclose()


async def test_http_server_with_a_bearer_token_from_the_environment(
    tmp_path: Path, http_toy: str
) -> None:
    from mnemocode.config.settings import McpConfig, McpServerConfig
    from mnemocode.extensions.mcp.config import load_servers

    headers = {"Authorization": "Bearer ${TOY_TOKEN}"}
    config = McpConfig(servers={"toy": McpServerConfig(type="http", url=http_toy, headers=headers)})

    def spec(env: dict[str, str]) -> ServerSpec:
        found = load_servers(config, project_root=None, mnemo_home=tmp_path, env=env, trusted=True)
        return found.specs[0]

    good = McpToolset([spec({"TOY_TOKEN": "s3cret-token"})], workdir=tmp_path)
    wrong = McpToolset([replace(spec({"TOY_TOKEN": "wrong"}), name="toy")], workdir=tmp_path)
    try:
        assert await good.start() == []
        result = await good.call(ToolCall("c", "mcp__toy__echo", {"text": "web"}), _ctx(tmp_path))
        assert result.text == "echo: web"
        [report] = await wrong.start()
        assert "'toy' failed to start" in report and "401" in report
        assert "s3cret" not in report
    finally:
        await good.aclose()
        await wrong.aclose()


async def test_a_lazy_server_with_a_cached_tool_list_starts_at_its_first_call(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    first = McpToolset([toy(startup="lazy")], workdir=tmp_path, state_dir=state)
    await first.start()  # no cache yet: it starts, and its tools are remembered
    await first.aclose()
    assert (state / "mcp-tools.json").is_file()
    later = McpToolset([toy(startup="lazy")], workdir=tmp_path, state_dir=state)
    try:
        assert await later.start() == []
        assert later.connections["toy"].status == "stopped"
        assert "mcp__toy__echo" in {s.name for s in later.specs()}
        result = await later.call(ToolCall("c", "mcp__toy__echo", {"text": "lazy"}), _ctx(tmp_path))
        assert result.text == "echo: lazy" and later.connections["toy"].status == "ready"
        changed = McpToolset([toy("toy", "--x", startup="lazy")], workdir=tmp_path, state_dir=state)
        assert changed.specs() == []  # another command: the cache does not count
    finally:
        await later.aclose()
