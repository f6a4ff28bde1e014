"""OAuth for remote MCP servers, against a local authorization + resource server built
with the SDK (``servers/oauth_server.py``, a subprocess on 127.0.0.1): ``mnemo mcp
login`` (the test plays the browser: one GET of the authorization URL, which the
server approves and redirects to our callback port) stores a 0600 token file; a later
session reuses it without a login; an expired access token is refreshed; a revoked
one fails with a message that says to log in again, and the session goes on."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mnemocode.config.settings import McpConfig
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.extensions.mcp.config import load_servers
from mnemocode.extensions.mcp.toolset import McpToolset
from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from mnemocode.safety.sandbox import LocalSandbox
from tests.conftest import run_mnemo, write_global_config
from tests.extensions.mcp.client_support import TOY, listening

SERVER = str(Path(__file__).parent / "servers" / "oauth_server.py")
NAME = "remote"


class AuthServer:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/mcp"

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.base}/_test/stats") as answer:
            found: dict[str, int] = json.loads(answer.read())
        return found

    def revoke(self) -> None:
        request = urllib.request.Request(f"{self.base}/_test/revoke", method="POST")
        urllib.request.urlopen(request).close()


def _serve(*args: str) -> Iterator[AuthServer]:
    with listening([sys.executable, SERVER, *args, "--port"]) as port:
        yield AuthServer(port)


@pytest.fixture
def auth_server() -> Iterator[AuthServer]:
    yield from _serve()


@pytest.fixture
def short_lived() -> Iterator[AuthServer]:
    """Access tokens that expire after one second."""
    yield from _serve("--token-ttl", "1")


def _configure(home: Path, url: str) -> Path:
    servers = {"mcpServers": {NAME: {"type": "http", "url": url}}}
    (home / "mcp.json").write_text(json.dumps(servers))
    return home / "mcp-oauth" / f"{NAME}.json"


def _login(home: Path, cwd: Path) -> tuple[int, str, str]:
    """``mnemo mcp login`` in a subprocess, the browser played here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env |= {"MNEMO_HOME": str(home), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemocode", "mcp", "login", NAME, "--no-browser"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    said = []
    for line in proc.stderr:
        said.append(line)
        if line.strip().startswith("http://"):
            # The authorization server approves and redirects to our callback port.
            with urllib.request.urlopen(line.strip(), timeout=30) as page:
                said.append(page.read().decode())
            break
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, "".join(said) + err


def _session(home: Path, work: Path) -> McpToolset:
    found = load_servers(
        McpConfig(), project_root=None, mnemo_home=home, env=os.environ, trusted=True
    )
    return McpToolset(found.specs, workdir=work)


async def _whoami(ts: McpToolset, work: Path) -> Any:
    ctx = ToolContext(cwd=work, sandbox=LocalSandbox())
    return await ts.call(ToolCall("c1", f"mcp__{NAME}__whoami", {}), ctx)


async def test_login_stores_a_private_token_file_that_later_sessions_reuse(
    tmp_path: Path, isolated_home: Path, auth_server: AuthServer
) -> None:
    token_file = _configure(isolated_home, auth_server.url)
    before = _session(isolated_home, tmp_path)
    try:
        [report] = await before.start()  # no login yet: said, not a browser mid-session
    finally:
        await before.aclose()
    assert f"'{NAME}' needs an OAuth login" in report
    assert f"mnemo mcp login {NAME}" in report

    code, out, err = _login(isolated_home, tmp_path)
    assert code == 0, err
    assert "Logged in; you can close this tab." in err  # what the browser showed
    assert f"Logged in to '{NAME}' (1 tools)" in out
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    assert not list(token_file.parent.glob(".*.tmp"))  # written atomically
    stored = json.loads(token_file.read_text())
    assert stored["tokens"]["refresh_token"] and stored["client"]["client_id"]
    assert auth_server.stats()["authorizations"] == 1

    later = _session(isolated_home, tmp_path)
    try:
        assert await later.start() == []
        result = await _whoami(later, tmp_path)
    finally:
        await later.aclose()
    assert result.text == "authorised" and not result.is_error
    assert auth_server.stats()["authorizations"] == 1  # no second login
    assert json.loads(token_file.read_text())["tokens"] == stored["tokens"]

    logout = run_mnemo(["mcp", "logout", NAME], cwd=tmp_path, home=isolated_home)
    assert logout.returncode == 0 and "Logged out" in logout.stdout
    assert not token_file.exists()


async def test_an_expired_access_token_is_refreshed_without_a_login(
    tmp_path: Path, isolated_home: Path, short_lived: AuthServer
) -> None:
    token_file = _configure(isolated_home, short_lived.url)
    code, _out, err = _login(isolated_home, tmp_path)
    assert code == 0, err
    first = json.loads(token_file.read_text())
    # until the server's clock has passed the expiry too
    await asyncio.sleep(max(0.0, first["expires_at"] + 1 - time.time()))
    session = _session(isolated_home, tmp_path)
    try:
        assert await session.start() == []
        result = await _whoami(session, tmp_path)
    finally:
        await session.aclose()
    assert result.text == "authorised"
    stats = short_lived.stats()
    assert stats["refresh_grants"] >= 1 and stats["authorizations"] == 1
    # The expired token was never offered: refreshed first, as the stored expiry said.
    assert stats.get("refused_tokens", 0) == 0
    now = json.loads(token_file.read_text())
    assert now["tokens"]["access_token"] != first["tokens"]["access_token"]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def _config(url: str) -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n[router]\nstrategy = "direct"\n'
    )


def test_a_revoked_login_asks_for_a_new_one_and_the_session_goes_on(
    tmp_path: Path, isolated_home: Path, auth_server: AuthServer
) -> None:
    _configure(isolated_home, auth_server.url)
    code, _out, err = _login(isolated_home, tmp_path)
    assert code == 0, err
    auth_server.revoke()
    # A second, local server beside it still works in the same run.
    servers = json.loads((isolated_home / "mcp.json").read_text())
    servers["mcpServers"]["toy"] = {"command": sys.executable, "args": [TOY]}
    (isolated_home / "mcp.json").write_text(json.dumps(servers))
    script = [tool_call("mcp__toy__echo", text="still here"), text("Done.")]
    with FakeOpenAIServer(script) as model:
        write_global_config(isolated_home, _config(model.base_url))
        run = run_mnemo(["-p", "go", "--yes"], cwd=tmp_path, home=isolated_home)
        requests = model.chat_requests
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Done.\n"
    assert f"'{NAME}' failed to start" in run.stderr
    assert "stored login was refused" in run.stderr
    assert f"mnemo mcp login {NAME}" in run.stderr
    assert "Traceback" not in run.stderr  # the SDK's own logging of the flow stays quiet
    assert "echo: still here" in json.dumps(requests[1].body)
    assert auth_server.stats()["authorizations"] == 1  # nothing logged in behind the user


def test_login_is_refused_for_a_server_that_does_not_use_oauth(
    tmp_path: Path, isolated_home: Path
) -> None:
    servers = {
        "mcpServers": {
            "local": {"command": sys.executable, "args": [TOY]},
            "keyed": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {
                "Authorization": "Bearer ${KEY:-x}"}},
        }
    }  # fmt: skip
    (isolated_home / "mcp.json").write_text(json.dumps(servers))
    for name, why in (("local", "a stdio server"), ("keyed", "its headers set Authorization")):
        done = run_mnemo(["mcp", "login", name], cwd=tmp_path, home=isolated_home)
        assert done.returncode != 0
        assert f"{name!r} does not log in with OAuth ({why})" in done.stderr
    assert not (isolated_home / "mcp-oauth").exists()
