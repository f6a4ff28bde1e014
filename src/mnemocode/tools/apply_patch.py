"""``apply_patch``: the patch envelope GPT and Codex models are trained to write,
applied through the one edit engine (``edit.py``)::

    *** Begin Patch
    *** Add File: docs/new.md        then "+" lines: the new file
    *** Delete File: old.txt
    *** Update File: src/app.py
    *** Move to: src/main.py         optional: rename it too
    @@ def greet():                  optional: jump below this line (several narrow further)
     context line                    " " kept, "-" removed, "+" added
    -print("Hi")
    +print("Hello")
    *** End of File                  optional: the hunk ends the file
    *** End Patch

Each hunk's old lines (context and removed) are found with the engine's levels —
exact, whitespace, indentation, bounded fuzzy — at or after the previous hunk,
the first place that matches; whole lines only. Every file of the patch is read
and every hunk matched before anything is written (a hunk that does not match
writes nothing); then each file is written atomically, with its encoding and line
endings. A crash between two files can leave the first written: the guard's
checkpoint (undo) covers every file the patch names.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.tools.base import tool
from mnemocode.tools.edit import (
    AmbiguousMatchError,
    EditError,
    Match,
    NoMatchError,
    apply_edit,
    find_matches,
    restore_eols,
)
from mnemocode.tools.files import (
    atomic_write,
    count_lines,
    decode_text,
    encode_text,
    line_change_summary,
    read_bytes,
)

TOOL_NAME = "apply_patch"
BEGIN, END = "*** Begin Patch", "*** End Patch"
ADD, DELETE, UPDATE, MOVE = "*** Add File:", "*** Delete File:", "*** Update File:", "*** Move to:"
END_OF_FILE = "*** End of File"

# Codex CLI's own models send the patch as a shell command: ``apply_patch <<'EOF'``.
_HEREDOC = re.compile(
    r"\A(?:apply_patch|applypatch)[ \t]*<<-?[ \t]*(['\"]?)(\w+)\1[ \t]*\n(.*)\n\2[ \t]*\Z",
    re.DOTALL,
)
_HEREDOC_LINES = {"<<EOF", "<<'EOF'", '<<"EOF"'}
# A unified-diff range ("@@ -12,7 +12,8 @@") says nothing the lines do not.
_RANGE = re.compile(r"\A-\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
# Model names trained on the envelope (``[tools] apply_patch = "auto"``).
_CODEX_TRAINED = re.compile(r"(?:\A|/)(?:gpt-|o[134](?:\Z|-)|codex)|codex")


class PatchError(ToolError):
    """The patch cannot be applied; nothing was written."""


@dataclass(frozen=True, slots=True)
class Hunk:
    contexts: tuple[str, ...]
    old: tuple[str, ...]
    new: tuple[str, ...]
    end_of_file: bool
    line: int  # where the hunk starts in the patch, for messages
    kinds: str = ""  # each line's mark in order: " " context, "-" removed, "+" added


@dataclass(frozen=True, slots=True)
class FileOp:
    kind: Literal["add", "delete", "update"]
    path: str
    move_to: str | None = None
    content: str = ""  # an added file's text
    hunks: tuple[Hunk, ...] = ()


@dataclass(slots=True)
class Change:
    """One file's outcome, computed before anything is written: ``after`` None,
    the file is deleted; ``removes``, a move's old name."""

    letter: str  # A, M, D, R (moved)
    shown: str
    path: Path
    before: str | None
    after: bytes | None
    after_text: str = ""
    notes: list[str] = field(default_factory=list)
    removes: Path | None = None


# ---- parsing -----------------------------------------------------------------------


def parse_patch(text: str) -> list[FileOp]:
    """The file operations of an envelope (lenient as Codex is: markers may carry
    spaces, a heredoc around the envelope is dropped)."""
    lines = text.strip().splitlines()
    if len(lines) >= 4 and lines[0].strip() in _HEREDOC_LINES and lines[-1].endswith("EOF"):
        lines = lines[1:-1]
    if not lines or lines[0].strip() != BEGIN:
        raise PatchError(f"a patch starts with the line {BEGIN!r}")
    if lines[-1].strip() != END:
        raise PatchError(f"a patch ends with the line {END!r}")
    ops: list[FileOp] = []
    i, body = 1, lines[:-1]
    while i < len(body):
        head = body[i].strip()
        if not head:
            i += 1
        elif head.startswith(ADD):
            start = i = i + 1
            while i < len(body) and body[i].startswith("+"):
                i += 1
            added = [line[1:] for line in body[start:i]]
            content = "\n".join(added) + "\n" if added else ""
            ops.append(FileOp("add", _path(head, ADD, i), content=content))
        elif head.startswith(DELETE):
            ops.append(FileOp("delete", _path(head, DELETE, i + 1)))
            i += 1
        elif head.startswith(UPDATE):
            op, i = _parse_update(body, i)
            ops.append(op)
        else:
            raise PatchError(
                f"patch line {i + 1}: expected {ADD!r}, {DELETE!r} or {UPDATE!r} "
                f"and a path, got {body[i][:80]!r}"
            )
    if not ops:
        raise PatchError("the patch changes no file")
    return ops


def _path(head: str, marker: str, line: int) -> str:
    path = head[len(marker) :].strip()
    if not path:
        raise PatchError(f"patch line {line}: {marker!r} needs a path")
    return path


def _parse_update(body: list[str], i: int) -> tuple[FileOp, int]:
    path = _path(body[i].strip(), UPDATE, i + 1)
    i += 1
    move_to = None
    if i < len(body) and body[i].strip().startswith(MOVE):
        move_to = _path(body[i].strip(), MOVE, i + 1)
        i += 1
    hunks: list[Hunk] = []
    while i < len(body):
        if not body[i].strip() and not hunks:
            i += 1
            continue
        if body[i].startswith("***") and body[i].strip() != END_OF_FILE:
            break
        hunk, i = _parse_hunk(body, i, path)
        hunks.append(hunk)
    if not hunks and move_to is None:
        raise PatchError(f"{UPDATE} {path} has no hunks")
    return FileOp("update", path, move_to, hunks=tuple(hunks)), i


def _parse_hunk(body: list[str], i: int, path: str) -> tuple[Hunk, int]:
    start = i
    contexts: list[str] = []
    while i < len(body) and body[i].strip().startswith("@@"):
        context = body[i].strip()[2:].strip()
        if context and not _RANGE.match(context):
            contexts.append(context)
        i += 1
    old: list[str] = []
    new: list[str] = []
    kinds: list[str] = []
    end_of_file = False
    while i < len(body):
        line = body[i]
        if line.strip() == END_OF_FILE:
            end_of_file = True
            i += 1
            break
        if line.startswith(("***", "@@")):
            break
        kind = line[:1] or " "
        if kind in "-+ ":
            kinds.append(kind)
            if kind != "+":
                old.append(line[1:])
            if kind != "-":
                new.append(line[1:])
        else:
            raise PatchError(
                f"patch line {i + 1} ({path}): {line[:80]!r} is not a hunk line; start each "
                "with ' ' (context), '-' (removed) or '+' (added)"
            )
        i += 1
    # Empty lines before the next hunk or file separate; they are not context.
    blank = 0
    while i - blank - 1 > start and body[i - blank - 1] == "":
        blank += 1
    if blank:
        del old[-blank:], new[-blank:], kinds[-blank:]
    if not old and not new:
        raise PatchError(f"patch line {start + 1} ({path}): the hunk has no lines")
    hunk = Hunk(tuple(contexts), tuple(old), tuple(new), end_of_file, start + 1, "".join(kinds))
    return hunk, i


def patch_paths(text: str) -> list[str]:
    """Every path the patch writes or deletes, as written in it (the safety policy
    checks each); raises ``PatchError`` when it does not parse."""
    paths: list[str] = []
    for op in parse_patch(text):
        for path in (op.path, op.move_to):
            if path is not None and path not in paths:
                paths.append(path)
    return paths


def shell_patch(command: str) -> str | None:
    """The envelope of a ``apply_patch <<'EOF' … EOF`` shell command, else None."""
    match = _HEREDOC.match(command.strip())
    if match is None or not match.group(3).strip().startswith(BEGIN):
        return None
    return match.group(3)


def codex_trained(model: str) -> bool:
    """Whether a model name looks like one trained on the envelope (GPT, o-series, Codex)."""
    return bool(_CODEX_TRAINED.search(model.lower()))


# ---- matching ----------------------------------------------------------------------


def _next_line(text: str, pos: int) -> int:
    """The start of the line after the one ``pos`` ends (``pos`` if it starts one)."""
    if pos == 0 or text[pos - 1] == "\n":
        return pos
    found = text.find("\n", pos)
    return len(text) if found == -1 else found + 1


def _first(
    text: str, cursor: int, old: list[str], new: list[str], eof: bool, kinds: str = ""
) -> _Found:
    """Where ``old`` (whole lines) first matches at or after ``cursor``, with the
    span that puts ``new`` there. A newline before the searched text makes every
    match begin at a line start (the engine matches substrings)."""
    if eof:  # search only the file's last lines
        starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n" and i + 1 < len(text))]
        cursor = max(cursor, starts[max(0, len(starts) - len(old))])
    region = "\n" + text[cursor:]
    old_text = "\n" + "\n".join(old) + "\n"
    new_text = "\n" + "\n".join(new) + "\n" if new else "\n"
    match = find_matches(region, old_text)[0]
    if eof and region[match.end :] not in {"", "\n"}:
        raise NoMatchError("not at the end")
    stop = match.end
    if match.level != "exact" and region.startswith("\n", stop):
        stop += 1  # the line's own newline, so deleting lines leaves no blank one
    if old == new:
        start, end, replacement = match.start, stop, region[match.start : stop]
    else:
        # Only this match is in the prefix, so the engine builds this one replacement.
        [(start, end, replacement)] = apply_edit(region[:stop], old_text, new_text).spans
        if match.level != "exact":
            replacement = _keep_context(replacement, region[match.start : match.end], kinds)
    if start == 0:  # the added newline itself: not part of the file
        start, replacement = 1, replacement[1:] if replacement.startswith("\n") else replacement
    return _Found(cursor + start - 1, cursor + end - 1, replacement, match)


def _keep_context(replacement: str, matched: str, kinds: str) -> str:
    """A hunk's context lines as the file has them, not as the patch spelled them
    (when the engine matched loosely and the lines still pair up one to one)."""
    have = matched.split("\n")
    lines = replacement.split("\n")
    if len(have) != len(kinds) - kinds.count("+") or len(lines) != len(kinds) - kinds.count("-"):
        return replacement
    i_old = i_new = 0
    for kind in kinds:
        if kind == " ":
            lines[i_new] = have[i_old]
        i_old += kind != "+"
        i_new += kind != "-"
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    replacement: str
    match: Match


def apply_hunks(
    text: str, hunks: tuple[Hunk, ...], shown: str
) -> tuple[str, list[str], list[tuple[int, int, str]]]:
    """``text`` (``\\n`` endings) with every hunk applied: the new text, notes on
    matches that were not exact, and the spans (for line endings)."""
    spans: list[tuple[int, int, str]] = []
    notes: list[str] = []
    cursor = 0
    for number, hunk in enumerate(hunks, 1):
        try:
            for context in hunk.contexts:
                cursor = _next_line(text, _first(text, cursor, [context], [context], False).end)
            if not hunk.old:
                at_end = not hunk.contexts or hunk.end_of_file
                pos = len(text) if at_end else cursor
                gap = "\n" if pos == len(text) and text and not text.endswith("\n") else ""
                spans.append((pos, pos, gap + "\n".join(hunk.new) + "\n"))
                continue
            found = _first(
                text, cursor, list(hunk.old), list(hunk.new), hunk.end_of_file, hunk.kinds
            )
        except EditError as exc:
            raise PatchError(_no_match(text, cursor, hunk, number, shown, exc)) from exc
        if found.match.level != "exact":
            notes.append(f"hunk {number}: {_LEVEL_NOTES[found.match.level]}")
        if found.replacement != text[found.start : found.end]:
            spans.append((found.start, found.end, found.replacement))
        cursor = _next_line(text, found.end)
    spans.sort(key=lambda s: (s[0], s[1]))
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise PatchError(f"{shown}: two hunks change the same lines")
    pieces, pos = [], 0
    for start, end, replacement in spans:
        pieces += [text[pos:start], replacement]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces), notes, spans


_LEVEL_NOTES = {
    "whitespace": "matched ignoring whitespace differences",
    "indent": "matched at another indentation; its lines re-indented",
    "fuzzy": "fuzzy match, check the result",
}


def _no_match(text: str, cursor: int, hunk: Hunk, number: int, shown: str, exc: EditError) -> str:
    first = next((line for line in hunk.old if line.strip()), hunk.contexts[-1:] or [""])
    head = f"{shown}: hunk {number} (patch line {hunk.line}, starting {str(first).strip()[:60]!r}) "
    offset = text.count("\n", 0, cursor) - 1  # region line 2 is the file line at cursor
    if isinstance(exc, AmbiguousMatchError):
        what = "is not in the file exactly, and several places are similar"
    elif hunk.end_of_file:
        what = "is marked End of File but does not match the file's last lines"
    else:
        what = "does not match the file"
        if isinstance(exc, NoMatchError) and exc.candidates:
            best = exc.candidates[0]
            what += (
                f" (closest: lines {best.line + offset}-{best.end_line + offset}, "
                f"{best.score:.0%} similar)"
            )
    return (
        f"{head}{what}. Nothing was written. Read the file again (file_read) and send "
        "the patch with its exact lines, or add an @@ line naming the function."
    )


# ---- planning and writing ----------------------------------------------------------


def plan_patch(text: str, cwd: Path) -> list[Change]:
    """What the patch would do to each file, every hunk matched; nothing written.
    Raises ``PatchError`` naming the file and the hunk that fails."""
    ops = parse_patch(text)
    state: dict[Path, bytes | None] = {}  # what earlier operations of the patch left

    def current(path: Path, shown: str) -> bytes | None:
        if path in state:
            return state[path]
        if not path.exists():
            return None
        return read_bytes(path, shown)

    changes: list[Change] = []
    for op in ops:
        target = _target(cwd, op.path)
        data = current(target, op.path)
        if op.kind == "add":
            if data is not None:
                raise PatchError(
                    f"Add File: {op.path} exists; use Update File to change it "
                    "(or Delete File, then Add File)"
                )
            added = op.content.encode("utf-8")
            changes.append(Change("A", op.path, target, None, added, op.content))
            state[target] = added
            continue
        if data is None:
            raise PatchError(f"{op.path} does not exist")
        decoded = decode_text(data)
        if op.kind == "delete":
            changes.append(Change("D", op.path, target, decoded.text if decoded else "", None))
            state[target] = None
            continue
        if decoded is None:
            raise PatchError(f"{op.path} is binary; apply_patch only changes text files")
        after_text, notes, spans = apply_hunks(decoded.text, op.hunks, op.path)
        eols = restore_eols(decoded.eols, decoded.text, spans, decoded.dominant_eol)
        after = encode_text(after_text, decoded, eols)
        if op.move_to is not None and _target(cwd, op.move_to) != target:
            dest = _target(cwd, op.move_to)
            if current(dest, op.move_to) is not None:
                raise PatchError(f"Move to: {op.move_to} exists; delete it first")
            shown = f"{op.path} → {op.move_to}"
            changes.append(
                Change("R", shown, dest, decoded.text, after, after_text, notes, removes=target)
            )
            state[target], state[dest] = None, after
        else:
            changes.append(Change("M", op.path, target, decoded.text, after, after_text, notes))
            state[target] = after
    return changes


def _target(cwd: Path, raw: str) -> Path:
    target = Path(os.path.expanduser(raw))
    return Path(os.path.normpath(target if target.is_absolute() else cwd / target))


def write_changes(changes: list[Change]) -> None:
    """Writes first, then deletions (a move writes its new name before the old goes)."""
    for change in changes:
        if change.after is not None:
            atomic_write(change.path, change.after)
    written = {c.path for c in changes if c.after is not None}
    for change in changes:
        gone = change.path if change.after is None else change.removes
        if gone is not None and gone not in written and gone.exists():
            gone.unlink()


def _report(change: Change) -> str:
    if change.letter == "D":
        return f"D {change.shown}"
    if change.letter == "A":
        return f"A {change.shown} ({count_lines(change.after_text)})"
    size = line_change_summary(change.before or "", change.after_text)
    notes = f"; {'; '.join(change.notes)}" if change.notes else ""
    return f"{change.letter} {change.shown} ({size}{notes})"


@tool(name=TOOL_NAME)
async def apply_patch(ctx: ToolContext, input: str) -> str:
    """Add, update, move or delete files with one patch (*** Begin Patch ... *** End Patch).

    Args:
        input: The whole patch, from *** Begin Patch to *** End Patch.
    """
    changes = plan_patch(input, ctx.cwd)
    write_changes(changes)
    return "Applied the patch:\n" + "\n".join(_report(c) for c in changes)
