"""`mnemo mcp add|list|get|remove` as real subprocesses, in Claude Code's format."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import run_mnemo


def test_add_list_get_remove(tmp_path: Path, isolated_home: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)

    def mnemo(*args: str) -> subprocess.CompletedProcess[str]:
        proc = run_mnemo(["mcp", *args], cwd=repo, home=isolated_home, env={"TOK": "t0k-secret"})
        assert proc.returncode == 0, proc.stderr
        return proc

    mnemo("add", "time", "-e", "TZ=UTC", "--", "uvx", "mcp-server-time", "--local-timezone", "UTC")
    mnemo("add", "--scope", "project", "git", "--", "uvx", "mcp-server-git")
    mnemo("add", "-t", "http", "docs", "https://x.test/mcp", "-H", "Authorization: Bearer ${TOK}")
    user = json.loads((isolated_home / "mcp.json").read_text())["mcpServers"]
    assert user["time"] == {
        "command": "uvx",
        "args": ["mcp-server-time", "--local-timezone", "UTC"],
        "env": {"TZ": "UTC"},
    }
    assert user["docs"] == {
        "type": "http",
        "url": "https://x.test/mcp",
        "headers": {"Authorization": "Bearer ${TOK}"},
    }
    project = json.loads((repo / ".mcp.json").read_text())["mcpServers"]
    assert project == {"git": {"command": "uvx", "args": ["mcp-server-git"]}}
    listed = mnemo("list").stdout
    assert "time: uvx mcp-server-time" in listed and "git: uvx mcp-server-git" in listed
    assert "docs: http https://x.test/mcp" in listed  # the folder stayed trusted: own write
    got = mnemo("get", "docs").stdout
    assert "Authorization" in got and "t0k-secret" not in got
    mnemo("remove", "git")
    assert json.loads((repo / ".mcp.json").read_text())["mcpServers"] == {}
    missing = run_mnemo(["mcp", "get", "git"], cwd=repo, home=isolated_home)
    assert missing.returncode != 0 and "no MCP server 'git'" in missing.stderr


def test_a_broken_file_is_named_with_its_line(tmp_path: Path, isolated_home: Path) -> None:
    (isolated_home / "mcp.json").write_text('{\n  "mcpServers": {\n    "a": {"command": 1}\n  }\n}')
    proc = run_mnemo(["mcp", "list"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode != 0
    assert f"{isolated_home / 'mcp.json'}:3" in proc.stderr and "command" in proc.stderr
    assert "Traceback" not in proc.stderr
