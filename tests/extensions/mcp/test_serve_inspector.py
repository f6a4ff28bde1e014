"""``mnemo mcp serve`` driven by the official MCP Inspector's CLI mode (npm
``@modelcontextprotocol/inspector``, installed by ``.ci/run``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.extensions.mcp.serve_support import Place, make_place, serve_args


def _inspector() -> str:
    found = shutil.which("mcp-inspector")
    assert found, "npm install -g @modelcontextprotocol/inspector@2.12.0 (as .ci/run does)"
    return found


def _inspect(place: Place, *method: str) -> tuple[int, Any]:
    proc = subprocess.run(
        [_inspector(), "--cli", sys.executable, *serve_args(), *method],
        cwd=place.work,
        env=place.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def place(tmp_path: Path, isolated_home: Path) -> Place:
    return make_place(tmp_path, isolated_home)


def test_inspector_lists_the_tools(place: Place) -> None:
    code, listed = _inspect(place, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}
    assert code == 0
    assert {"file_read", "file_write", "file_edit", "glob", "grep", "shell_exec"} <= names
    read = next(t for t in listed["tools"] if t["name"] == "file_read")
    assert read["inputSchema"]["properties"]["path"]["type"] == "string"


def test_inspector_calls_a_tool(place: Place) -> None:
    code, result = _inspect(
        place, "--method", "tools/call", "--tool-name", "grep", "--tool-arg", "pattern=make"
    )
    assert code == 0 and result["isError"] is False
    assert "notes.txt" in result["content"][0]["text"]


def test_inspector_sees_a_denied_calls_reason(place: Place) -> None:
    code, result = _inspect(
        place,
        "--method", "tools/call", "--tool-name", "shell_exec",
        "--tool-arg", "command=rm -rf notes.txt",
    )  # fmt: skip
    assert code != 0 and result["isError"] is True
    text = result["content"][0]["text"]
    assert "Denied by mnemo mcp serve" in text and "cannot be asked" in text
    assert (place.work / "notes.txt").exists()
