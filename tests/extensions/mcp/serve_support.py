"""Starting the real ``mnemo mcp serve`` for the serve tests: over stdio for the
SDK's own ``mcp.Client``, or over HTTP as a process whose stderr says the URL."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp import Client, StdioServerParameters

SECRET_MARKER = "FAKE-SSH-KEY-7f3a9c"


@dataclass(slots=True)
class Place:
    """A work directory, a fake user HOME with a secret in it, and MNEMO_HOME."""

    work: Path
    home: Path
    mnemo_home: Path

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
        return {**base, "HOME": str(self.home), "MNEMO_HOME": str(self.mnemo_home), **extra}

    def audit(self) -> str:
        return "".join(p.read_text() for p in self.mnemo_home.rglob("audit.jsonl"))


def make_place(tmp_path: Path, mnemo_home: Path) -> Place:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    (work / "notes.txt").write_text("the build uses make\n")
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET_MARKER}\n")
    return Place(work, home, mnemo_home)


def serve_args(*extra: str) -> list[str]:
    return ["-m", "mnemocode", "mcp", "serve", *extra]


def stdio_client(place: Place, *extra: str, **client: Any) -> Client:
    params = StdioServerParameters(
        command=sys.executable, args=serve_args(*extra), env=place.env(), cwd=place.work
    )
    return Client(params, read_timeout_seconds=60, **client)


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


@dataclass(slots=True)
class Answering:
    """An elicitation callback that answers every question the same way."""

    approve: bool
    action: str = "accept"
    questions: list[str] = field(default_factory=list)

    async def __call__(
        self, _context: Any, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.questions.append(params.message)
        content = {"approve": self.approve} if self.action == "accept" else None
        return types.ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


@dataclass(slots=True)
class HttpServer:
    process: subprocess.Popen[str]
    url: str
    stderr: list[str]


@contextlib.contextmanager
def http_server(place: Place, *extra: str, **env: str) -> Iterator[HttpServer]:
    process = subprocess.Popen(
        [sys.executable, *serve_args("--http", "0", *extra)],
        cwd=place.work,
        env=place.env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    url = ""
    for line in process.stderr:  # until it says where it listens
        lines.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
        if found:
            url = found.group()
            break
    if not url:
        process.kill()
        process.wait()
        process.stderr.close()
        raise AssertionError("mnemo mcp serve --http did not start:\n" + "".join(lines))
    # Keep reading so a chatty server never blocks on a full pipe.
    reader = threading.Thread(target=lambda: lines.extend(process.stderr or []), daemon=True)
    reader.start()
    try:
        yield HttpServer(process, url, lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        process.stderr.close()
