"""``@path`` attachments: turn the paths named in a prompt into message content.

``@src/app.py`` inlines a text file in a ``<file path="...">`` block, ``@shot.png``
attaches an image (when the model has vision), ``@src/`` lists a folder, and
``@"a path/with spaces.md"`` quotes a path. An ``@`` inside a word (an e-mail
address) is not an attachment. Text is capped across all attachments of one
message; anything cut or skipped says so in a note the model reads.

No terminal code here: headless mode uses it too.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mnemocode.core.types import ImagePart, Message

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_LISTING = 200
SKIPPED_DIRS = {".git"}

# ``@"quoted path"`` or ``@path``, at the start or after whitespace.
_TOKEN = re.compile(r'(?<!\S)@(?:"([^"]+)"|([^\s"]+))')
_TRAILING = ",.;:!?)]}'"

Kind = Literal["text", "image", "dir", "missing", "binary", "skipped"]


@dataclass(slots=True)
class Attachment:
    """One ``@path`` of a prompt and what became of it."""

    token: str  # as typed, e.g. ``@"my file.txt"``
    path: Path | None  # resolved; None: not a file (an MCP resource, ``mcp_attachments``)
    kind: Kind
    block: str = ""  # text that goes into the message
    note: str = ""  # one line for the user (and the model, when something was left out)
    image: ImagePart | None = None


@dataclass(slots=True)
class _Budget:
    left: int
    cut: list[str] = field(default_factory=list)


def find_tokens(text: str) -> list[tuple[str, str]]:
    """``(token as typed, path text)`` for each ``@path`` in ``text``."""
    found = []
    for match in _TOKEN.finditer(text):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            found.append((match.group(0), quoted))
        elif bare and bare.strip(_TRAILING):
            found.append((match.group(0), bare))
    return found


def _resolve(raw: str, cwd: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else cwd / path


def _display(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def _pick_path(raw: str, cwd: Path) -> tuple[str, Path]:
    """The path as typed, or without trailing punctuation (``see @a.py,``)."""
    path = _resolve(raw, cwd)
    stripped = raw.rstrip(_TRAILING)
    if not path.exists() and stripped and stripped != raw:
        candidate = _resolve(stripped, cwd)
        if candidate.exists():
            return stripped, candidate
    return raw, path


def _listing(path: Path, shown: str) -> str:
    entries = sorted(
        (p for p in path.iterdir() if p.name not in SKIPPED_DIRS),
        key=lambda p: (not p.is_dir(), p.name),
    )
    lines = [p.name + ("/" if p.is_dir() else "") for p in entries[:MAX_LISTING]]
    if len(entries) > MAX_LISTING:
        lines.append(f"... and {len(entries) - MAX_LISTING} more")
    body = "\n".join(lines) or "(empty)"
    return f'<directory path="{shown}">\n{body}\n</directory>'


def _read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _attach_file(token: str, path: Path, shown: str, vision: bool, budget: _Budget) -> Attachment:
    media_type = IMAGE_TYPES.get(path.suffix.lower())
    if media_type is not None:
        if not vision:
            note = f"{shown}: image not attached (the current model has no vision)"
            return Attachment(token, path, "skipped", note=note)
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            note = f"{shown}: image not attached ({size // 1024 // 1024} MB is too large)"
            return Attachment(token, path, "skipped", note=note)
        image = ImagePart.from_bytes(path.read_bytes(), media_type)
        return Attachment(token, path, "image", note=f"{shown}: image attached", image=image)
    text = _read_text(path)
    if text is None:
        note = f"{shown}: binary file, not attached (use a tool to inspect it)"
        return Attachment(token, path, "binary", note=note)
    if budget.left <= 0:
        note = f"{shown}: not inlined (attachment limit reached); read it with file_read"
        return Attachment(token, path, "skipped", note=note)
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    note = f"{shown}: {lines} lines inlined"
    if len(text) > budget.left:
        kept = text[: budget.left]
        note = (
            f"{shown}: cut at {len(kept)} of {len(text)} characters; "
            "read the rest with file_read (offset/limit)"
        )
        text = kept
    budget.left -= len(text)
    block = f'<file path="{shown}">\n{text.rstrip(chr(10))}\n</file>'
    return Attachment(token, path, "text", block=block, note=note)


def collect_attachments(
    text: str, cwd: Path, *, vision: bool, max_chars: int, skip: Collection[str] = ()
) -> list[Attachment]:
    """Resolve every ``@path`` of ``text`` (each path once, in order); the tokens in
    ``skip`` are not paths (``@server:uri`` resources, attached by the REPL)."""
    budget = _Budget(max_chars)
    seen: set[Path] = set()
    found: list[Attachment] = []
    for token, typed in find_tokens(text):
        if token in skip:
            continue
        raw, path = _pick_path(typed, cwd)
        shown = _display(path, cwd)
        if path in seen:
            continue
        seen.add(path)
        try:
            if path.is_dir():
                block = _listing(path, shown)
                found.append(Attachment(token, path, "dir", block=block, note=f"{shown}/: listed"))
            elif path.is_file():
                found.append(_attach_file(token, path, shown, vision, budget))
            else:
                note = f"{raw}: no such file or directory (left as typed)"
                found.append(Attachment(token, path, "missing", note=note))
        except OSError as exc:
            note = f"{shown}: could not be read ({exc.strerror or exc})"
            found.append(Attachment(token, path, "missing", note=note))
    return found


def build_message(text: str, attachments: list[Attachment]) -> Message:
    """The user message: the prompt as typed, then the attached content."""
    blocks = [a.block for a in attachments if a.block]
    notes = [a.note for a in attachments if a.kind in {"missing", "binary", "skipped"}]
    if any(a.kind == "text" and "cut at" in a.note for a in attachments):
        notes += [a.note for a in attachments if a.kind == "text" and "cut at" in a.note]
    parts = [text, *blocks]
    if notes:
        parts.append("\n".join(f"[mnemo] {n}" for n in notes))
    images = [a.image for a in attachments if a.image is not None]
    return Message.user("\n\n".join(parts), images)


def expand_attachments(text: str, cwd: Path, *, vision: bool, max_chars: int) -> Message:
    """``text`` as a user message with its ``@path`` attachments resolved."""
    return build_message(text, collect_attachments(text, cwd, vision=vision, max_chars=max_chars))


# What the REPL adds to a prompt: attached files, the user's !cmd runs (see
# ``repl.shell_note`` / ``interrupted_note``) and mnemo's notes about attachments.
_FILE_BLOCK = re.compile(r'\n*<file path="([^"\n]*)">\n.*?\n</file>', re.DOTALL)
_RESOURCE_BLOCK = re.compile(
    r'\n*<resource server="[^"\n]*" uri="[^"\n]*">\n.*?\n</resource>', re.DOTALL
)
_SHELL_NOTE = re.compile(
    r"I ran `(.+?)` myself(?:; output:| and interrupted it after [\d.]+s; output so far:)"
    r"\n```\n.*?\n```(?=\n\n|$)|I ran `(.+?)` myself and interrupted it after [\d.]+s; "
    r"no output\.",
    re.DOTALL,
)
_MNEMO_NOTE = re.compile(r"^\[mnemo\] .*$", re.MULTILINE)
_ESCALATION = re.compile(r"<mnemo-escalation[^>]*>.*?</mnemo-escalation>", re.DOTALL)


def typed_prompt(text: str) -> str:
    """A user message as one line: what was typed, with attached files, ``!cmd``
    output and mnemo's notes (what a failed strategy learnt, too) left out
    (``!cmd`` runs are named)."""
    typed = _RESOURCE_BLOCK.sub("", _FILE_BLOCK.sub("", text))
    typed = _SHELL_NOTE.sub(lambda m: f"[!{m.group(1) or m.group(2)}]", typed)
    typed = _MNEMO_NOTE.sub("", _ESCALATION.sub("", typed))
    return " ".join(typed.split())
