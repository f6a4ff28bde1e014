"""One agent file: Claude Code's sub-agent markdown, memfun's body sections.

Frontmatter: ``name`` and ``description`` (required), ``tools`` and
``disallowedTools`` (a comma/space list or a YAML list; no ``tools``: all the
parent's), ``model`` (a model alias of mnemo's config, or ``inherit``),
``permissionMode``, ``maxTurns``, ``skills``, ``mcpServers``; other fields (``color``…)
are accepted. The body is the system prompt. Its ``## Constraints`` section may cap
the iterations ("at most 5 turns": ``maxTurns`` when not set) and ``## Delegation``
lists the agents it may hand work to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mnemocode.extensions.skills.frontmatter import Frontmatter, Problem, parse, read_body
from mnemocode.extensions.skills.spec import split_tools

Source = Literal["builtin", "user", "project"]
NAME = re.compile(r"^[a-z0-9]+([-_][a-z0-9]+)*$")
MAX_NAME, MAX_DESCRIPTION = 64, 1024
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions", "dontAsk")
#: Claude Code's tool names → ours (``Bash(git:*)``'s specifier is not kept).
CLAUDE_TOOLS = {
    "bash": "shell_exec",
    "read": "file_read",
    "write": "file_write",
    "edit": "file_edit",
    "multiedit": "file_edit",
    "notebookedit": "file_edit",
    "glob": "glob",
    "grep": "grep",
    "ls": "glob",
    "webfetch": "web_fetch",
    "websearch": "web_search",
    "task": "task",
    "agent": "task",
}
_CAP = re.compile(
    r"\b(?:at most|no more than|maximum of|max(?:imum)?|up to|cap(?:ped)? at)\s+(\d+)\s+"
    r"(?:iterations?|turns?|steps?|rounds?)",
    re.IGNORECASE,
)
_SECTION = re.compile(r"^##\s+(.+?)\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+[`*]*([A-Za-z0-9_-]+)")


@dataclass(frozen=True, slots=True)
class AgentDef:
    name: str
    description: str
    path: Path
    prompt: str  # the body: the sub-agent's system prompt
    source: Source = "user"
    tools: tuple[str, ...] | None = None  # None: all the parent's tools
    disallowed: tuple[str, ...] = ()
    model: str | None = None  # None: the parent's (``inherit``)
    permission_mode: str | None = None
    max_turns: int | None = None
    skills: tuple[str, ...] = ()
    mcp_servers: tuple[str, ...] = ()
    delegation: tuple[str, ...] = ()  # agents it may call ``task`` with

    def allowed_tools(self, available: list[str]) -> list[str]:
        """The parent's tools this agent gets, in the parent's order. With
        ``mcpServers``, its MCP tools are those servers' tools (all of them, whatever
        ``tools`` says) and no other server's."""
        chosen = available if self.tools is None else [t for t in available if t in self.tools]
        if self.mcp_servers:
            servers = {f"mcp__{name}__" for name in self.mcp_servers}
            listed = [t for t in available if t[: t.find("__", 5) + 2] in servers]
            chosen = [t for t in chosen if not t.startswith("mcp__")]
            chosen = [t for t in available if t in chosen or t in listed]
        return [t for t in chosen if t not in self.disallowed]


def load_agent(path: Path, source: Source = "user") -> tuple[AgentDef | None, list[Problem]]:
    """The agent of ``path``, or every problem found (``file:line``)."""
    front, problems = parse(path)
    if front is None:
        return None, problems
    problems = check(front, path)
    if problems:
        return None, problems
    data = front.fields
    body = read_body(path)
    sections = body_sections(body)
    turns = data.get("maxTurns")
    if turns is None:
        found = _CAP.search(sections.get("constraints", ""))
        turns = int(found.group(1)) if found and int(found.group(1)) > 0 else None
    model = _text(data.get("model"))
    return AgentDef(
        name=data["name"],
        description=" ".join(data["description"].split()),
        path=path,
        prompt=body.strip() + "\n",
        source=source,
        tools=_tool_names(data["tools"]) if data.get("tools") is not None else None,
        disallowed=_tool_names(data.get("disallowedTools")),
        model=None if model in (None, "inherit") else model,
        permission_mode=_text(data.get("permissionMode")),
        max_turns=turns,
        skills=_names(data.get("skills")),
        mcp_servers=_names(data.get("mcpServers")),
        delegation=tuple(_delegates(sections.get("delegation", ""))),
    ), []


def check(front: Frontmatter, path: Path) -> list[Problem]:
    data, problems = front.fields, []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(path, front.lines.get(key, 2), message))

    name = data.get("name")
    if not isinstance(name, str) or not name:
        problem("name", "`name` is required (lowercase letters, digits and hyphens)")
    elif len(name) > MAX_NAME or not NAME.match(name):
        problem("name", f"`name` {name!r} must be 1-{MAX_NAME} lowercase letters, digits, hyphens")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        problem("description", "`description` is required (when to hand work to this agent)")
    elif len(description) > MAX_DESCRIPTION:
        problem("description", f"`description` is {len(description)} characters; at most 1024")
    for key in ("tools", "disallowedTools", "skills", "mcpServers"):
        value = data.get(key)
        if value is not None and not _is_list(value):
            problem(key, f"`{key}` must be a comma-separated string or a list of names")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        problem("model", "`model` must be a model alias of your mnemo config, or `inherit`")
    mode = data.get("permissionMode")
    if mode is not None and mode not in PERMISSION_MODES:
        problem("permissionMode", f"`permissionMode` must be one of {', '.join(PERMISSION_MODES)}")
    turns = data.get("maxTurns")
    if turns is not None and (isinstance(turns, bool) or not isinstance(turns, int) or turns < 1):
        problem("maxTurns", "`maxTurns` must be a whole number of at least 1")
    return problems


def body_sections(body: str) -> dict[str, str]:
    """``## Heading`` → its text, headings lowercased."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in body.splitlines():
        heading = _SECTION.match(line)
        if heading:
            current = heading.group(1).strip().lower()
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def _delegates(text: str) -> list[str]:
    found: list[str] = []
    for line in text.splitlines():
        bullet = _BULLET.match(line)
        if bullet and NAME.match(bullet.group(1).lower()):
            found.append(bullet.group(1).lower())
    return found


def _is_list(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = re.split(r"[,\s]+", value)
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def _tool_names(value: Any) -> tuple[str, ...]:
    out: list[str] = []
    for entry in _names(value if not isinstance(value, str) else split_tools(value)):
        base = entry.partition("(")[0].strip()
        tool = CLAUDE_TOOLS.get(base.lower(), base)
        if tool and tool not in out:
            out.append(tool)
    return tuple(out)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
