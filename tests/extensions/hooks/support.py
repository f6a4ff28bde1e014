"""Helpers of the hooks tests: a project whose ``.claude/settings.json`` runs real
hook scripts, and a session (``build_app``) on it with a scripted model."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from mnemocode.app import App, build_app
from mnemocode.config.settings import HookConfig, ModelConfig, RouterConfig, SafetyConfig, Settings
from mnemocode.core.events import AgentEvent, Notice, TurnFinished
from mnemocode.core.protocols import Approver
from mnemocode.llm.testing import ScriptedModel, Turn
from mnemocode.safety.approvers import StaticApprover


def project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def script(folder: Path, name: str, body: str) -> str:
    """A Python hook script; returns the command that runs it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text("import json, os, sys\ndata = json.load(sys.stdin)\n" + body)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(path))}"


def claude_settings(
    root: Path, hooks: dict[str, list[dict[str, Any]]], *, local: bool = False
) -> Path:
    """``.claude/settings.json`` (or ``settings.local.json``) in Claude Code's shape:
    ``hooks`` maps an event to ``[(matcher, command, timeout)…]`` groups."""
    shaped = {
        event: [
            {"matcher": g.get("matcher", ""), "hooks": [{"type": "command", **g["hook"]}]}
            for g in groups
        ]
        for event, groups in hooks.items()
    }
    path = root / ".claude" / ("settings.local.json" if local else "settings.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hooks": shaped}, indent=2))
    return path


def session(
    work: Path,
    home: Path,
    turns: list[Turn],
    *,
    mode: str = "bypass",
    approver: Approver | None = None,
    trusted: bool = True,
    hooks: dict[str, list[HookConfig]] | None = None,
    **settings: Any,
) -> tuple[App, ScriptedModel]:
    config = Settings(
        models={"t": ModelConfig(model="scripted")},
        active_model="t",
        router=RouterConfig(strategy="direct"),
        safety=SafetyConfig(mode=mode),  # type: ignore[arg-type]
        hooks=hooks or {},  # type: ignore[arg-type]
        **settings,
    )
    model = ScriptedModel(turns)
    app = build_app(
        config,
        cwd=work,
        home=home,
        approver=approver or StaticApprover(True),
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        model=model,
        trusted_folder=trusted,
    )
    return app, model


class Events:
    def __init__(self) -> None:
        self.seen: list[AgentEvent] = []

    def __call__(self, event: AgentEvent) -> None:
        self.seen.append(event)

    def notices(self) -> list[str]:
        return [e.message for e in self.seen if isinstance(e, Notice)]


async def turn(app: App, prompt: str = "go") -> tuple[TurnFinished, Events]:
    events = Events()
    try:
        finished = await app.run_turn(prompt, events)
    finally:
        await app.close()
    return finished, events


def tool_texts(model: ScriptedModel, request: int) -> list[str]:
    messages = model.requests[request].messages
    return [
        "".join(getattr(p, "text", "") for p in m.content) for m in messages if m.role == "tool"
    ]


def user_texts(model: ScriptedModel, request: int) -> list[str]:
    messages = model.requests[request].messages
    return [
        "".join(getattr(p, "text", "") for p in m.content) for m in messages if m.role == "user"
    ]
