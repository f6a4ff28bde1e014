"""The one edit engine: find ``old`` in a text and replace it with ``new``.

Matching tries, in order, and stops at the first level that finds something:

1. ``exact``      — the substring, verbatim.
2. ``whitespace`` — whole lines, ignoring trailing whitespace and runs of spaces/tabs.
3. ``indent``     — as 2, but the block may sit at another (uniform) indentation;
                    the replacement is re-indented by the same amount.
4. ``fuzzy``      — the most similar window of about as many lines (difflib ratio
                    ≥ 0.85), only when it is clearly better than any other place.

Texts use ``\\n`` line endings here; the ``file_edit`` tool converts on the way in
and restores each line's original ending (and encoding) on the way out.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.tools.base import tool
from mnemocode.tools.files import (
    atomic_write,
    count_lines,
    decode_text,
    encode_text,
    read_bytes,
    resolve,
)
from mnemocode.tools.fuzzy import Window, similar_windows

Level = Literal["exact", "whitespace", "indent", "fuzzy"]

FUZZY_THRESHOLD = 0.85
FUZZY_MARGIN = 0.05  # the best fuzzy window must beat the next place by this much
FUZZY_MIN_CHARS = 12

_SPACES = re.compile(r"[ \t]+")


class EditError(ToolError):
    """The edit could not be applied; the message tells the model what to do."""


@dataclass(frozen=True, slots=True)
class Candidate:
    line: int
    end_line: int
    score: float
    snippet: str


class NoMatchError(EditError):
    def __init__(self, message: str, candidates: Sequence[Candidate] = ()) -> None:
        self.candidates = list(candidates)
        super().__init__(message)


class AmbiguousMatchError(EditError):
    def __init__(self, message: str, lines: Sequence[int]) -> None:
        self.lines = list(lines)
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Match:
    """Where ``old`` was found: char offsets ``[start, end)`` and 1-based lines."""

    start: int
    end: int
    line: int
    end_line: int
    level: Level
    score: float = 1.0
    # Re-indentation for the replacement: the text had ``add`` more (or ``remove``
    # less) leading whitespace than ``old``.
    add: str = ""
    remove: str = ""


@dataclass(frozen=True, slots=True)
class EditResult:
    text: str
    matches: list[Match]
    # (start, end, replacement) in the original text, in order — enough to carry
    # each untouched line's ending over to the new text.
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def level(self) -> Level:
        return self.matches[0].level


# ---- public API ----------------------------------------------------------------------


def find_match(text: str, old: str) -> Match:
    """The single place ``old`` matches; raises ``AmbiguousMatchError`` / ``NoMatchError``."""
    matches = find_matches(text, old)
    if len(matches) > 1:
        raise _ambiguous(matches)
    return matches[0]


def find_matches(text: str, old: str) -> list[Match]:
    """All non-overlapping matches at the first level that has any (fuzzy: at most one)."""
    old = old.replace("\r\n", "\n")
    if not old:
        raise EditError("old_string is empty")
    exact = list(_exact(text, old))
    if exact:
        return exact
    lines = _Lines(text)
    block, _lead, _trail = _block(old)
    if block:
        for level in ("whitespace", "indent"):
            found = list(lines.linewise(block, level))
            if found:
                return found
    return [_fuzzy(lines, block, old)]


def apply_edit(text: str, old: str, new: str, replace_all: bool = False) -> EditResult:
    """Replace ``old`` by ``new`` in ``text`` (``\\n`` endings); every occurrence with
    ``replace_all``, else exactly one or an error."""
    old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
    if old == new:
        raise EditError("old_string and new_string are identical; nothing to change")
    matches = find_matches(text, old)
    if len(matches) > 1 and not replace_all:
        raise _ambiguous(matches)
    _, lead, trail = _block(old)
    spans = [_span(text, m, new, lead, trail) for m in matches]
    pieces: list[str] = []
    pos = 0
    for start, end, replacement in spans:
        pieces += [text[pos:start], replacement]
        pos = end
    pieces.append(text[pos:])
    return EditResult("".join(pieces), matches, spans)


def restore_eols(
    eols: Sequence[str], text: str, spans: Sequence[tuple[int, int, str]], default: str
) -> list[str]:
    """The ending of each newline of the edited text: untouched newlines keep theirs;
    new ones take the ending of the line where their edit starts."""
    out: list[str] = []
    pos = k = 0
    for start, end, replacement in spans:
        before = text.count("\n", pos, start)
        out.extend(eols[k : k + before])
        k += before
        eol = eols[k] if k < len(eols) else default
        k += text.count("\n", start, end)
        out.extend([eol] * replacement.count("\n"))
        pos = end
    out.extend(eols[k:])
    return out


# ---- levels --------------------------------------------------------------------------


def _exact(text: str, old: str) -> Iterator[Match]:
    pos = text.find(old)
    while pos != -1:
        end = pos + len(old)
        line = text.count("\n", 0, pos) + 1
        yield Match(pos, end, line, line + old.count("\n", 0, len(old) - 1), "exact")
        pos = text.find(old, end)


def _norm(line: str) -> str:
    """Whitespace-normalised line: indentation kept, the rest collapsed, no trailing."""
    rest = line.lstrip(" \t")
    if not rest.strip():
        return ""
    return line[: len(line) - len(rest)] + _SPACES.sub(" ", rest).rstrip()


def _split_indent(line: str) -> tuple[str, str]:
    norm = _norm(line)
    rest = norm.lstrip(" \t")
    return norm[: len(norm) - len(rest)], rest


def _block(old: str) -> tuple[list[str], int, int]:
    """``old`` as whole lines without leading/trailing blank lines, and how many
    blank lines were dropped at each end."""
    lines = old.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    lead = 0
    while lead < len(lines) and not lines[lead].strip():
        lead += 1
    trail = 0
    while trail < len(lines) - lead and not lines[-1 - trail].strip():
        trail += 1
    return lines[lead : len(lines) - trail], lead, trail


class _Lines:
    """A text split into lines, with offsets and normalised forms computed once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        if text.endswith("\n"):
            self.lines.pop()  # no phantom empty line after the last newline
        self.starts: list[int] = []
        pos = 0
        for line in self.lines:
            self.starts.append(pos)
            pos += len(line) + 1
        self.normed = [_norm(line) for line in self.lines]
        self.parts = [_split_indent(line) for line in self.lines]

    def match(
        self, i: int, n: int, level: Level, score: float = 1.0, delta: tuple[str, str] = ("", "")
    ) -> Match:
        end = self.starts[i + n - 1] + len(self.lines[i + n - 1])
        return Match(self.starts[i], end, i + 1, i + n, level, score, *delta)

    def linewise(self, block: list[str], level: Level) -> Iterator[Match]:
        n = len(block)
        want = [_norm(line) for line in block]
        want_split = [_split_indent(line) for line in block]
        i = 0
        while i + n <= len(self.lines):
            if level == "whitespace":
                ok = self.normed[i : i + n] == want
                delta: tuple[str, str] | None = ("", "") if ok else None
            else:
                delta = _indent_delta(self.parts[i : i + n], want_split)
            if delta is not None:
                yield self.match(i, n, level, 1.0, delta)
                i += n
            else:
                i += 1

    def snippet(self, i: int, n: int, max_lines: int = 3) -> str:
        shown = [f"{k + 1:>6}\t{self.lines[k][:160]}" for k in range(i, min(i + n, i + max_lines))]
        return "\n".join(shown + (["   ..."] if n > max_lines else []))


def _indent_delta(
    have: Sequence[tuple[str, str]], want: Sequence[tuple[str, str]]
) -> tuple[str, str] | None:
    """The uniform indentation difference (add, remove) that turns ``want`` into
    ``have``, or None when the lines differ otherwise."""
    deltas: set[tuple[str, str]] = set()
    for (h_indent, h_rest), (w_indent, w_rest) in zip(have, want, strict=True):
        if h_rest != w_rest:
            return None
        if not h_rest:
            continue
        if h_indent.endswith(w_indent):
            deltas.add((h_indent[: len(h_indent) - len(w_indent)], ""))
        elif w_indent.endswith(h_indent):
            deltas.add(("", w_indent[: len(w_indent) - len(h_indent)]))
        else:
            return None
        if len(deltas) > 1:
            return None
    return deltas.pop() if deltas else None


def _fuzzy(lines: _Lines, block: list[str], old: str) -> Match:
    """The most similar window, if it is good and clearly better than any other
    place; else raise, showing the closest candidates."""
    places = similar_windows(
        [rest for _, rest in lines.parts], [_split_indent(b)[1] for b in block]
    )
    if places and len(old.strip()) >= FUZZY_MIN_CHARS and places[0].score >= FUZZY_THRESHOLD:
        best = places[0]
        runner_up = places[1].score if len(places) > 1 else 0.0
        if best.score - runner_up >= FUZZY_MARGIN:
            delta = _window_delta(lines, best, block)
            return lines.match(best.start, best.size, "fuzzy", best.score, delta)
        similar = [w for w in places if w.score >= best.score - FUZZY_MARGIN]
        where = ", ".join(f"lines {w.start + 1}-{w.end} ({w.score:.0%})" for w in similar)
        raise AmbiguousMatchError(
            f"old_string was not found exactly, and several places are similar: {where}. "
            "Copy the exact text of the one you mean (file_read).",
            [w.start + 1 for w in similar],
        )
    candidates = [
        Candidate(w.start + 1, w.end, w.score, lines.snippet(w.start, w.size))
        for w in places[:3]
        if w.score >= 0.4
    ]
    advice = "Read the file again (file_read) and copy the text exactly, including indentation."
    shown = "\n".join(
        f"lines {c.line}-{c.end_line} ({c.score:.0%} similar):\n{c.snippet}" for c in candidates
    )
    closest = f" Closest places:\n{shown}\n" if candidates else " "
    raise NoMatchError(f"old_string was not found.{closest}{advice}", candidates)


def _window_delta(lines: _Lines, window: Window, block: list[str]) -> tuple[str, str]:
    """Indentation difference between the window's and the block's first lines."""
    rows = range(window.start, window.end)
    have = next((lines.parts[k][0] for k in rows if lines.parts[k][1]), "")
    want = next((_split_indent(line)[0] for line in block if line.strip()), "")
    if have.endswith(want):
        return have[: len(have) - len(want)], ""
    if want.endswith(have):
        return "", want[: len(want) - len(have)]
    return "", ""


# ---- building the replacement ----------------------------------------------------------


def _span(text: str, match: Match, new: str, lead: int, trail: int) -> tuple[int, int, str]:
    if match.level == "exact":
        return match.start, match.end, new
    new_block = new.split("\n")
    if len(new_block) > 1 and new_block[-1] == "":
        new_block.pop()
    # Drop the blank lines `old` had around its block when `new` has them too.
    while lead and new_block and not new_block[0].strip():
        new_block.pop(0)
        lead -= 1
    while trail and new_block and not new_block[-1].strip():
        new_block.pop()
        trail -= 1
    start, end = match.start, match.end
    if new_block == [""] or not new_block:
        # Deleting whole lines: take one newline with them, no blank line is left.
        if end < len(text) and text[end] == "\n":
            end += 1
        elif start > 0:
            start -= 1
        return start, end, ""
    return start, end, "\n".join(_reindent(line, match.add, match.remove) for line in new_block)


def _reindent(line: str, add: str, remove: str) -> str:
    if not line.strip():
        return line
    if add:
        return add + line
    if remove:
        if line.startswith(remove):
            return line[len(remove) :]
        indent = len(line) - len(line.lstrip(" \t"))
        return line[min(indent, len(remove)) :]
    return line


def _ambiguous(matches: Sequence[Match]) -> AmbiguousMatchError:
    where = ", ".join(str(m.line) for m in matches[:20])
    more = f" (and {len(matches) - 20} more)" if len(matches) > 20 else ""
    return AmbiguousMatchError(
        f"old_string matches {len(matches)} places (starting at lines {where}{more}). "
        "Add surrounding lines to make it unique, or set replace_all=true.",
        [m.line for m in matches],
    )


# ---- the tool --------------------------------------------------------------------------

MAX_DIFF_LINES = 60


@tool()
async def file_edit(
    ctx: ToolContext, path: str, old_string: str, new_string: str, replace_all: bool = False
) -> str:
    """Replace text in a file; old_string must match one place (indentation may differ).

    Args:
        path: Relative to the project root, or absolute.
        old_string: Text to replace; empty to create a new file.
        new_string: Replacement text.
        replace_all: Replace every occurrence.
    """
    target = resolve(ctx, path)
    if not target.exists():
        if old_string:
            raise ToolError(f"{path} does not exist (an empty old_string creates it)")
        atomic_write(target, new_string.encode("utf-8"))
        return f"Created {path} ({count_lines(new_string)})."
    decoded = decode_text(read_bytes(target, path))
    if decoded is None:
        raise ToolError(f"{path} is binary; file_edit only edits text files")
    if not old_string:
        if decoded.text:
            raise ToolError(f"{path} is not empty: give the text to replace in old_string")
        atomic_write(target, encode_text(new_string.replace("\r\n", "\n"), decoded))
        return f"Wrote {path} ({count_lines(new_string)})."
    try:
        result = apply_edit(decoded.text, old_string, new_string, replace_all)
    except EditError as exc:
        raise EditError(f"{path}: {exc}") from exc
    eols = restore_eols(decoded.eols, decoded.text, result.spans, decoded.dominant_eol)
    atomic_write(target, encode_text(result.text, decoded, eols))
    return _summary(path, decoded.text, result)


def _summary(path: str, before: str, result: EditResult) -> str:
    count = len(result.matches)
    lines = ", ".join(str(m.line) for m in result.matches[:10])
    plural = "s" if count > 1 else ""
    head = f"Edited {path}: {count} replacement{plural} at line{plural} {lines}"
    notes = {
        "exact": "",
        "whitespace": " (matched ignoring whitespace differences)",
        "indent": " (matched at a different indentation; replacement re-indented)",
        "fuzzy": f" (fuzzy match, {result.matches[0].score:.0%} similar: check the diff)",
    }
    diff = list(
        difflib.unified_diff(
            before.splitlines(), result.text.splitlines(), path, path, n=2, lineterm=""
        )
    )[2:]
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
    return f"{head}{notes[result.level]}.\n" + "\n".join(line[:300] for line in diff)
