"""A skill's frontmatter checked against the agentskills.io spec.

Required: ``name`` (the folder's name; 1–64 lowercase letters, digits and single
hyphens, not at either end) and ``description`` (1–1024 characters). Optional:
``license``, ``compatibility`` (≤ 500), ``metadata`` (a string map),
``allowed-tools`` (space-separated; a YAML list is read too). Other fields are
other clients' and accepted; these mean something here: ``disable-model-invocation``
(only the user starts it, with ``/name``), ``user-invocable: false`` (no slash
command), ``argument-hint`` (shown in completion and help).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mnemocode.extensions.skills.frontmatter import Frontmatter, Problem, parse

SKILL_FILE = "SKILL.md"
Source = Literal["builtin", "user", "project"]
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_NAME, MAX_DESCRIPTION, MAX_COMPATIBILITY = 64, 1024, 500


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    description: str
    path: Path  # the SKILL.md
    source: Source = "user"
    license: str | None = None
    compatibility: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()
    model_invocable: bool = True
    user_invocable: bool = True
    argument_hint: str = ""

    @property
    def folder(self) -> Path:
        return self.path.parent

    def body(self) -> str:
        from mnemocode.extensions.skills.frontmatter import read_body

        return read_body(self.path)


def load_skill(path: Path, source: Source = "user") -> tuple[Skill | None, list[Problem]]:
    """The skill of ``path`` (a SKILL.md or its folder), or every problem found."""
    if path.is_dir():
        path = path / SKILL_FILE
    front, problems = parse(path)
    if front is None:
        return None, problems
    problems = check(front, path)
    if problems:
        return None, problems
    data = front.fields
    return Skill(
        name=data["name"],
        description=data["description"].strip(),
        path=path,
        source=source,
        license=_text(data.get("license")),
        compatibility=_text(data.get("compatibility")),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        allowed_tools=_tools(data.get("allowed-tools")),
        model_invocable=not _flag(data.get("disable-model-invocation"), default=False),
        user_invocable=_flag(data.get("user-invocable"), default=True),
        argument_hint=_text(data.get("argument-hint")) or "",
    ), []


def check(front: Frontmatter, path: Path) -> list[Problem]:
    data, problems = front.fields, []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(path, front.lines.get(key, 2), message))

    name = data.get("name")
    folder = path.parent.name
    if not isinstance(name, str) or not name:
        problem("name", "`name` is required (a string: the folder's name)")
    elif len(name) > MAX_NAME:
        problem("name", f"`name` is {len(name)} characters; at most {MAX_NAME}")
    elif not NAME.match(name):
        problem(
            "name",
            f"`name` {name!r} must be lowercase letters, digits and single hyphens, "
            "not starting or ending with a hyphen",
        )
    elif name != folder:
        problem("name", f"`name` {name!r} must equal the folder's name {folder!r}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        problem("description", "`description` is required (what the skill does, when to use it)")
    elif len(description) > MAX_DESCRIPTION:
        problem(
            "description",
            f"`description` is {len(description)} characters; at most {MAX_DESCRIPTION}",
        )
    _check_optional(data, problem)
    return problems


def _check_optional(data: dict[str, Any], problem: Any) -> None:
    for key in ("license", "compatibility", "argument-hint"):
        if key in data and not isinstance(data[key], str):
            problem(key, f"`{key}` must be a string")
    compatibility = data.get("compatibility")
    if isinstance(compatibility, str) and not 1 <= len(compatibility) <= MAX_COMPATIBILITY:
        problem(
            "compatibility",
            f"`compatibility` is {len(compatibility)} characters; 1 to {MAX_COMPATIBILITY}",
        )
    metadata = data.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        problem("metadata", "`metadata` must map strings to strings")
    tools = data.get("allowed-tools")
    if tools is not None and not (
        isinstance(tools, str)
        or (isinstance(tools, list) and all(isinstance(t, str) for t in tools))
    ):
        problem("allowed-tools", "`allowed-tools` must be a space-separated string of tool names")
    for key in ("disable-model-invocation", "user-invocable"):
        if key in data and not isinstance(data[key], bool):
            problem(key, f"`{key}` must be true or false")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any, *, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _tools(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(split_tools(value))
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def split_tools(text: str) -> list[str]:
    """Space- or comma-separated, but ``Bash(git status:*)`` keeps its inner spaces."""
    out, current, depth = [], "", 0
    for char in text:
        if char in " ,\t\n" and depth == 0:
            if current:
                out.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current:
        out.append(current)
    return out
