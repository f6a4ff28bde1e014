"""Helpers of the MCP client's tests: server specs for the real servers, and a
session (``build_app``) with a scripted model."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnemocode.app import App, build_app
from mnemocode.config.settings import (
    McpConfig,
    McpServerConfig,
    ModelConfig,
    RouterConfig,
    SafetyConfig,
    Settings,
)
from mnemocode.core.protocols import Approver
from mnemocode.extensions.mcp.config import ServerSpec
from mnemocode.llm.testing import ScriptedModel, Turn
from mnemocode.safety.approvers import StaticApprover

TOY = str(Path(__file__).parent / "servers" / "toy.py")


@contextlib.contextmanager
def listening(argv: list[str]) -> Iterator[int]:
    """A server process given a free loopback port (``argv`` + the port), once it
    accepts connections; stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [*argv, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def toy(name: str = "toy", *args: str, **kw: Any) -> ServerSpec:
    return ServerSpec(
        name, "stdio", "config", "test", command=sys.executable, args=(TOY, *args), **kw
    )


def module(name: str, mod: str, *args: str) -> ServerSpec:
    return ServerSpec(
        name, "stdio", "config", "test", command=sys.executable, args=("-m", mod, *args)
    )


def toy_config(*args: str, **kw: Any) -> McpServerConfig:
    return McpServerConfig(command=sys.executable, args=[TOY, *args], **kw)


def session(
    work: Path,
    home: Path,
    script: list[Turn],
    servers: dict[str, McpServerConfig],
    *,
    mode: str = "bypass",
    approver: Approver | None = None,
    vision: bool = False,
    **mcp: Any,
) -> tuple[App, ScriptedModel]:
    settings = Settings(
        models={"t": ModelConfig(model="scripted", vision=vision)},
        active_model="t",
        router=RouterConfig(strategy="direct"),
        safety=SafetyConfig(mode=mode),  # type: ignore[arg-type]
        mcp=McpConfig(servers=servers, read_mcp_json=False, **mcp),
    )
    model = ScriptedModel(script)
    app = build_app(
        settings,
        cwd=work,
        home=home,
        approver=approver or StaticApprover(True),
        env={"HOME": str(home)},
        model=model,
    )
    return app, model


def tool_messages(model: ScriptedModel, request: int) -> list[str]:
    messages = model.requests[request].messages
    return [
        "".join(getattr(p, "text", "") for p in m.content) for m in messages if m.role == "tool"
    ]
