"""Helpers of the skills tests: real skill folders on disk and a session
(``build_app``) with a scripted model, a temporary HOME and a project with git."""

from __future__ import annotations

from pathlib import Path

from mnemocode.app import App, build_app
from mnemocode.config.settings import (
    ModelConfig,
    RouterConfig,
    SafetyConfig,
    Settings,
    SkillsConfig,
)
from mnemocode.core.protocols import Approver
from mnemocode.llm.testing import ScriptedModel, Turn
from mnemocode.safety.approvers import StaticApprover


def write_skill(
    root: Path,
    name: str,
    description: str = "Does a thing.",
    body: str = "Do the thing with $ARGUMENTS.\n",
    *,
    extra: str = "",
    files: dict[str, str] | None = None,
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    head = f"---\nname: {name}\ndescription: {description}\n{extra}---\n"
    (folder / "SKILL.md").write_text(head + body, encoding="utf-8")
    for relative, content in (files or {}).items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return folder


def project(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True, exist_ok=True)
    return work


def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "user"
    home.mkdir(exist_ok=True)
    return home


def session(
    tmp_path: Path,
    mnemo_home: Path,
    script: list[Turn],
    *,
    mode: str = "ask",
    approver: Approver | None = None,
    trusted: bool = False,
    prompt_tokens: int = 1_500,
) -> tuple[App, ScriptedModel]:
    settings = Settings(
        models={"t": ModelConfig(model="scripted")},
        active_model="t",
        router=RouterConfig(strategy="direct"),
        safety=SafetyConfig(mode=mode),  # type: ignore[arg-type]
        skills=SkillsConfig(prompt_tokens=prompt_tokens),
    )
    settings.memory.enabled = False
    model = ScriptedModel(script)
    app = build_app(
        settings,
        cwd=project(tmp_path),
        home=mnemo_home,
        approver=approver or StaticApprover(True),
        env={"HOME": str(user_home(tmp_path))},
        model=model,
        trusted_folder=trusted,
    )
    return app, model


def system_text(model: ScriptedModel, request: int = 0) -> str:
    return "\n".join(block.text for block in model.requests[request].system)


def tool_texts(model: ScriptedModel, request: int) -> list[str]:
    messages = model.requests[request].messages
    return [
        "".join(getattr(p, "text", "") for p in m.content) for m in messages if m.role == "tool"
    ]
