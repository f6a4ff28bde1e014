"""The YAML frontmatter of a ``SKILL.md``: its fields, the line of each, the body.

Discovery reads only the head of the file (up to the closing ``---``); the body is
read when the skill is activated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_HEAD_LINES = 400


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Frontmatter:
    fields: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)  # key → 1-based line in the file
    end_line: int = 1  # the closing ``---``; the body starts after it


def _is_fence(line: str) -> bool:
    return line.rstrip("\r\n").rstrip() == "---"


def read_head(path: Path) -> tuple[list[str], int | None]:
    """The lines between the opening and the closing ``---`` and the closing line's
    number (None: no frontmatter, or it is not closed)."""
    head: list[str] = []
    with path.open(encoding="utf-8-sig", errors="replace") as stream:
        first = stream.readline()
        if not _is_fence(first):
            return [], None
        for number, line in enumerate(stream, start=2):
            if _is_fence(line):
                return head, number
            if number > MAX_HEAD_LINES:
                break
            head.append(line)
    return head, None


def parse(path: Path) -> tuple[Frontmatter | None, list[Problem]]:
    """The frontmatter of ``path``, or the problems that keep it from being read."""
    import yaml

    try:
        head, end = read_head(path)
    except OSError as exc:
        return None, [Problem(path, 1, f"cannot read: {exc.strerror or exc}")]
    if end is None:
        why = "no YAML frontmatter (the file must start with a line `---`)"
        if head:
            why = "the frontmatter is not closed by a line `---`"
        return None, [Problem(path, 1, why)]
    text = "".join(head)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        context, where = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and where is not None and where.line + 2 != line:
            problem = f"{problem} ({context} at line {where.line + 2})"
        return None, [Problem(path, line, f"invalid YAML: {problem}")]
    if data is None:
        data = {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode | None):
        return None, [Problem(path, 2, "the frontmatter must be a mapping of `key: value`")]
    lines: dict[str, int] = {}
    for key_node, _value in node.value if node is not None else []:
        lines[str(key_node.value)] = key_node.start_mark.line + 2
    return Frontmatter({str(k): v for k, v in data.items()}, lines, end), []


def read_body(path: Path) -> str:
    """The Markdown after the frontmatter."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = text.splitlines(keepends=True)
    if not lines or not _is_fence(lines[0]):
        return text
    for index, line in enumerate(lines[1:], start=1):
        if _is_fence(line):
            return "".join(lines[index + 1 :]).strip("\n") + "\n"
    return ""
