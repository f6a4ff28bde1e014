"""``mnemo mcp serve --http``: streamable HTTP on loopback behind a bearer token,
driven by the SDK's own client over a real socket."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.extensions.mcp.serve_support import http_server, make_place, text_of

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "attacker", "version": "0"},
    },
}


def _post(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(INITIALIZE).encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            **headers,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_request_without_the_right_token_gets_401(tmp_path: Path, isolated_home: Path) -> None:
    place = make_place(tmp_path, isolated_home)
    with http_server(place, MNEMO_MCP_TOKEN="s3cret-token") as server:
        missing = _post(server.url, {})
        wrong = _post(server.url, {"authorization": "Bearer s3cret-tokeX"})
        bare = _post(server.url, {"authorization": "s3cret-token"})
        right = _post(server.url, {"authorization": "Bearer s3cret-token"})
    assert (missing, wrong, bare) == (401, 401, 401)
    assert right == 200
    assert not any("s3cret-token" in line for line in server.stderr)  # given: not echoed


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_the_sdk_client_with_the_printed_token_lists_and_calls(
    tmp_path: Path, isolated_home: Path, protocol: str
) -> None:
    place = make_place(tmp_path, isolated_home)
    with http_server(place) as server:
        token = next(line for line in server.stderr if "token" in line).split()[-1]
        headers = {"authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers) as http:
            transport = streamable_http_client(server.url, http_client=http)
            async with Client(transport, mode=protocol, read_timeout_seconds=60) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                read = await client.call_tool("file_read", {"path": "notes.txt"})
                write = await client.call_tool("file_write", {"path": "x.txt", "content": "x"})
    assert {"file_read", "shell_exec"} <= names
    assert "the build uses make" in text_of(read)
    assert write.is_error and "cannot be asked" in text_of(write)
    assert not (place.work / "x.txt").exists()


def test_a_port_in_use_is_one_clear_line(tmp_path: Path, isolated_home: Path) -> None:
    from tests.conftest import run_mnemo

    place = make_place(tmp_path, isolated_home)
    with http_server(place) as server:
        port = server.url.split(":")[2].split("/")[0]
        proc = run_mnemo(
            ["mcp", "serve", "--http", port], cwd=place.work, home=place.mnemo_home, timeout=60
        )
    assert proc.returncode != 0 and f"--http {port}: cannot listen" in proc.stderr
