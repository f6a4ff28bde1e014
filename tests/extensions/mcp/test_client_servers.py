"""The client against real third-party servers: PyPI mcp-server-time and
mcp-server-git (the newest protocol), npm server-everything and server-filesystem
(the 2025-11-25 handshake, by fallback)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ImagePart, ToolCall
from mnemocode.extensions.mcp.config import ServerSpec
from mnemocode.extensions.mcp.toolset import McpToolset
from mnemocode.safety.sandbox import LocalSandbox
from tests.extensions.mcp.client_support import module


def _npm(name: str, *args: str) -> ServerSpec:
    path = shutil.which(f"mcp-server-{name}")
    assert path, f"npm i -g @modelcontextprotocol/server-{name} (.ci/run installs it)"
    return ServerSpec(name, "stdio", "config", "test", command=path, args=args)


def _ctx(tmp_path: Path, *, vision: bool = False) -> ToolContext:
    return ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), vision=vision)


async def _call(ts: McpToolset, ctx: ToolContext, name: str, **args: object):  # type: ignore[no-untyped-def]
    return await ts.call(ToolCall("c1", name, dict(args)), ctx)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


async def test_time_and_git_speak_the_newest_revision(tmp_path: Path, repo: Path) -> None:
    (repo / "new.txt").write_text("hi")
    ts = McpToolset(
        [module("time", "mcp_server_time"), module("git", "mcp_server_git")], workdir=tmp_path
    )
    try:
        assert await ts.start() == []
        assert {c.protocol for c in ts.connections.values()} == {"2026-07-28"}
        names = {s.name for s in ts.specs()}
        assert {"mcp__time__get_current_time", "mcp__git__git_status"} <= names
        spec = next(s for s in ts.specs() if s.name == "mcp__time__get_current_time")
        assert "timezone" in spec.parameters["properties"]
        ctx = _ctx(tmp_path)
        now = await _call(ts, ctx, "mcp__time__get_current_time", timezone="UTC")
        assert not now.is_error and '"timezone": "UTC"' in now.text
        status = await _call(ts, ctx, "mcp__git__git_status", repo_path=str(repo))
        assert not status.is_error and "new.txt" in status.text
    finally:
        await ts.aclose()


async def test_everything_server_results_by_kind(tmp_path: Path) -> None:
    ts = McpToolset([_npm("everything")], workdir=tmp_path)
    try:
        await ts.start()
        assert ts.connections["everything"].protocol == "2025-11-25"  # the fallback
        ctx = _ctx(tmp_path)
        echo = await _call(ts, ctx, "mcp__everything__echo", message="hello")
        assert echo.text == "Echo: hello"
        seen = await _call(ts, _ctx(tmp_path, vision=True), "mcp__everything__get-tiny-image")
        assert any(isinstance(p, ImagePart) and p.media_type == "image/png" for p in seen.content)
        blind = await _call(ts, ctx, "mcp__everything__get-tiny-image")
        assert not any(isinstance(p, ImagePart) for p in blind.content)
        assert "[image image/png" in blind.text and "no vision" in blind.text
        links = await _call(ts, ctx, "mcp__everything__get-resource-links", count=2)
        assert links.text.count("[resource link ") == 2 and "demo://resource/" in links.text
        structured = await _call(
            ts, ctx, "mcp__everything__get-structured-content", location="New York"
        )
        assert not structured.is_error and "temperature" in structured.text
        bad = await _call(ts, ctx, "mcp__everything__get-sum", a="not a number", b=1)
        assert bad.is_error
        long = await _call(
            ts, ctx, "mcp__everything__trigger-long-running-operation", duration=1, steps=2
        )
        assert not long.is_error and "completed" in long.text.lower()
    finally:
        await ts.aclose()


async def test_filesystem_server_reads_only_where_it_is_allowed(tmp_path: Path) -> None:
    allowed = tmp_path / "shared"
    allowed.mkdir()
    (allowed / "notes.md").write_text("# notes\n")
    (tmp_path / "secret.txt").write_text("no")
    ts = McpToolset([_npm("filesystem", str(allowed))], workdir=tmp_path)
    try:
        await ts.start()
        ctx = _ctx(tmp_path)
        listing = await _call(ts, ctx, "mcp__filesystem__list_directory", path=str(allowed))
        assert "notes.md" in listing.text
        outside = await _call(
            ts, ctx, "mcp__filesystem__read_text_file", path=str(tmp_path / "secret.txt")
        )
        assert outside.is_error and "denied" in outside.text.lower()
    finally:
        await ts.aclose()


@pytest.mark.parametrize("cap", [200])
async def test_long_descriptions_are_capped(tmp_path: Path, cap: int) -> None:
    from tests.extensions.mcp.client_support import toy

    ts = McpToolset([toy()], workdir=tmp_path, max_description_chars=cap)
    try:
        await ts.start()
        wordy = next(s for s in ts.specs() if s.name == "mcp__toy__wordy")
        assert len(wordy.description) == cap and wordy.description.endswith("…")
    finally:
        await ts.aclose()
