"""A parser for SEARCH/REPLACE edit blocks in free text, for models that edit by
writing blocks instead of calling ``file_edit``::

    path/to/file.py
    ```python
    <<<<<<< SEARCH
    old lines
    =======
    new lines
    >>>>>>> REPLACE
    ```

The file name is taken from the nearest of the three lines above the SEARCH
marker (skipping lines that open a fence); a block without one edits the file of
the block before it. Fenced shell blocks (```` ```bash ```` ...) are returned too,
and their content is not searched for edit blocks (unless the fence holds one:
then it is an edit of a shell script). Each block's ``search`` text
then goes to ``edit.apply_edit``. The grammar is the one aider uses; the test suite
checks it against aider's own corpus of 577 blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mnemocode.core.errors import ToolError

Fence = tuple[str, str]
DEFAULT_FENCE: Fence = ("```", "```")

HEAD = "<<<<<<< SEARCH"
DIVIDER = "======="
UPDATED = ">>>>>>> REPLACE"
SHELL_LANGUAGES = (
    "bash",
    "sh",
    "shell",
    "cmd",
    "batch",
    "powershell",
    "ps1",
    "zsh",
    "fish",
    "ksh",
    "csh",
    "tcsh",
)


@dataclass(frozen=True, slots=True)
class EditBlock:
    path: str
    search: str
    replace: str
    line: int  # 1-based line of the SEARCH marker


@dataclass(frozen=True, slots=True)
class ShellBlock:
    command: str
    line: int  # 1-based line of the opening fence


class EditBlockError(ToolError):
    """A malformed block; ``line`` is where the parser gave up (1-based)."""

    def __init__(self, message: str, line: int) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


def parse_edit_blocks(text: str, fence: Fence = DEFAULT_FENCE) -> list[EditBlock | ShellBlock]:
    """Every edit block and shell block in ``text``, in order.

    Raises ``EditBlockError`` on a block without a file name, divider or end marker."""
    lines = text.splitlines(keepends=True)
    blocks: list[EditBlock | ShellBlock] = []
    current_path: str | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if _opens_shell(stripped) and HEAD not in (s.strip() for s in lines[i + 1 : i + 3]):
            end = _find(lines, i + 1, lambda s: s.startswith("```"))
            blocks.append(ShellBlock("".join(lines[i + 1 : end]), i + 1))
            i = end + 1
            continue
        if stripped == HEAD:
            path = _find_path(lines[max(0, i - 3) : i], fence) or current_path
            if path is None:
                raise EditBlockError(
                    f"missing file name: put it alone on the line before the opening {fence[0]}",
                    i + 1,
                )
            current_path = path
            divider = _find(lines, i + 1, lambda s: s == DIVIDER)
            if divider == len(lines):
                raise EditBlockError(f"expected {DIVIDER}", divider)
            # A second divider also ends a block: models sometimes close with it.
            updated = _find(lines, divider + 1, lambda s: s in {UPDATED, DIVIDER})
            if updated == len(lines):
                raise EditBlockError(f"expected {UPDATED} or {DIVIDER}", updated)
            search = "".join(lines[i + 1 : divider])
            replace = "".join(lines[divider + 1 : updated])
            blocks.append(EditBlock(path, search, replace, i + 1))
            i = updated
        i += 1
    return blocks


def choose_fence(text: str, fences: tuple[Fence, ...] = ()) -> Fence:
    """The fence a reply uses: the first of ``fences`` (default: four backticks, then
    the XML-ish ones) that opens a line in ``text``, else three backticks."""
    for fence in fences or _OTHER_FENCES:
        if "\n" + fence[0] in text:
            return fence
    return DEFAULT_FENCE


_OTHER_FENCES: tuple[Fence, ...] = (
    ("````", "````"),
    ("<source>", "</source>"),
    ("<code>", "</code>"),
    ("<pre>", "</pre>"),
    ("<codeblock>", "</codeblock>"),
    ("<sourcecode>", "</sourcecode>"),
)


def _opens_shell(stripped: str) -> bool:
    return stripped.startswith("```") and any(
        stripped.startswith("```" + lang) for lang in SHELL_LANGUAGES
    )


def _find(lines: list[str], start: int, is_end: Callable[[str], bool]) -> int:
    """Index of the first line from ``start`` whose stripped text ends a section,
    or ``len(lines)``."""
    for i in range(start, len(lines)):
        if is_end(lines[i].strip()):
            return i
    return len(lines)


def _find_path(before: list[str], fence: Fence) -> str | None:
    """The file name on one of the (up to three) lines before the SEARCH marker,
    nearest first; looking further back only across lines that open a fence."""
    for line in reversed(before):
        name = _clean_path(line, fence)
        if name:
            return name
        if not line.startswith(fence[0]):
            return None
    return None


def _clean_path(line: str, fence: Fence) -> str | None:
    name = line.strip()
    if name == "..." or name.startswith(fence[0]):
        return None
    return name.rstrip(":").lstrip("#").strip().strip("`").strip("*") or None
