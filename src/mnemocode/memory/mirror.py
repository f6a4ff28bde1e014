"""The human-readable, hand-editable mirror of a project's memory (``.mnemo/MEMORY.md``).

Pure functions only; reading and writing the file is someone else's job.

File format: a ``# Project memory: <project>`` title, a comment, then one
``## <Heading>`` section per kind (``ENTRY_KINDS`` order, empty ones left out),
entries sorted by key, one bullet each::

    - **use-postgres** (reversed, pinned): Use PostgreSQL — why: the team knows it
      a second line of the value is indented by two spaces

The parenthesised flags appear only when the status is not "active" or the entry is
pinned; ``— why: <rationale>`` only when there is a rationale.

Escaping (valid CommonMark, so the file still reads well when rendered):

* ``\\`` before ASCII punctuation is an escape: ``*`` in keys is written ``\\*``, the
  colon of a dash-then-``why:`` inside a text is written ``why\\:`` (so it cannot be
  taken for the separator), ``&#`` is written ``\\&#``, and a backslash that would
  otherwise read as an escape is doubled. Any other backslash is literal.
* ``&#N;`` (numeric character reference) encodes whitespace at the start or end of a
  text or of one of its lines, newlines at its very start or end, line breaks other
  than ``\\n`` (and, in keys, ``\\n`` too). So no line of the file carries meaningful
  leading or trailing whitespace, and editors that trim it change nothing.

Parsing is tolerant: ``*``/``+``/numbered bullets, a bullet without ``**key**`` (its key
is derived from its text), flags in any case, ``--``/``–`` for the dash, unknown
headings (kind "note"), HTML comments, blank lines and thematic breaks. When a key
appears twice, the last bullet wins.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field

from mnemocode.memory.types import ENTRY_KINDS, ENTRY_STATUSES, Entry, EntryKind, EntryStatus

KIND_HEADINGS: dict[EntryKind, str] = {
    "decision": "Decisions",
    "architecture": "Architecture",
    "convention": "Conventions",
    "progress": "Progress",
    "task": "Open tasks",
    "fact": "Facts",
    "note": "Notes",
}
HEADER_COMMENT = (
    "<!-- You can edit this file: add, change or delete bullets. mnemo picks up your "
    "changes the next time it starts, and your edits win over the agent's. "
    "Format: - **key** (status, pinned): text — why: reason -->"
)
MAX_DERIVED_KEY_LENGTH = 40
CONTINUATION_INDENT = "  "

_HEADING_TO_KIND: dict[str, EntryKind] = {
    **{kind: kind for kind in ENTRY_KINDS},
    **{f"{kind}s": kind for kind in ENTRY_KINDS},
    **{heading.lower(): kind for kind, heading in KIND_HEADINGS.items()},
    "todo": "task",
}
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")  # what str.splitlines splits on
_PUNCTUATION = frozenset(string.punctuation)
_WHY_COLON = re.compile(r"[—–-]\s*why(?=:)", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*(?:—|–|--?)\s*why:", re.IGNORECASE)
_UNESCAPE = re.compile(
    rf"\\([{re.escape(string.punctuation)}])|&#(?:([0-9]{{1,7}})|[xX]([0-9a-fA-F]{{1,6}}));"
)
_KEY = re.compile(r"\*\*((?:\\.|[^*\\])*)\*\*", re.DOTALL)
_FLAGS = re.compile(r"[ \t]*\(([^)\n]*)\)")
_COLON = re.compile(r"[ \t]*:")
_BULLET = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?")
_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)[ \t#]*")
_THEMATIC_BREAK = re.compile(r"([-*_])(?:[ \t]*\1){2,}")
_SLUG_WORD = re.compile(r"[^\W_]+")


@dataclass(slots=True)
class SyncPlan:
    """What to apply to the database so it takes in the user's edits to the file."""

    upserts: list[Entry] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def render(entries: list[Entry], *, project: str) -> str:
    """The Markdown mirror of ``entries``; ``parse`` gives them back."""
    title = " ".join(["# Project memory:", *project.split()])
    lines = [title, "", HEADER_COMMENT]
    for kind in ENTRY_KINDS:
        in_section = [e for e in entries if _section_kind(e) == kind]
        if not in_section:
            continue
        lines += ["", f"## {KIND_HEADINGS[kind]}", ""]
        for entry in sorted(in_section, key=lambda e: e.key):
            lines += _render_bullet(entry)
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[Entry]:
    """The entries in a mirror file, as rendered or as edited by hand."""
    parsed = [(kind, *_parse_bullet(lines)) for kind, lines in _bullet_blocks(text)]
    taken = {key for _, key, *_ in parsed if key}
    by_key: dict[str, Entry] = {}
    for kind, explicit_key, value, rationale, status, pinned in parsed:
        if not (explicit_key or value or rationale):
            continue  # an empty bullet
        key = explicit_key or _unique(_slug(value or rationale), taken)
        taken.add(key)
        by_key[key] = Entry(key, kind, value, rationale, status, pinned, source="mirror")
    return list(by_key.values())


def plan_sync(db: list[Entry], file: list[Entry], base: list[Entry] | None) -> SyncPlan:
    """Three-way merge of the file into the database; ``base`` is the file as last written.

    Only the user's changes (file vs base) are planned; where the database changed
    the same key since base too, the user wins and the key is listed in conflicts.
    Without a base, every file entry that differs from the database is an edit and
    nothing is deleted.
    """
    db_by_key = {entry.key: entry for entry in db}
    file_by_key = {entry.key: entry for entry in file}
    plan = SyncPlan()
    if base is None:
        plan.upserts = [
            file_by_key[key]
            for key in sorted(file_by_key)
            if _differs(file_by_key[key], db_by_key.get(key))
        ]
        return plan
    base_by_key = {entry.key: entry for entry in base}
    for key in sorted(file_by_key.keys() | base_by_key.keys()):
        mine, theirs, before = file_by_key.get(key), db_by_key.get(key), base_by_key.get(key)
        if not _differs(mine, before) or not _differs(mine, theirs):
            continue  # untouched by the user, or both sides already agree
        if mine is not None:
            plan.upserts.append(mine)
        else:
            plan.deletes.append(key)
        if _differs(theirs, before):
            plan.conflicts.append(key)
    return plan


def fingerprint(text: str) -> str:
    """sha256 of ``text`` with line endings, trailing whitespace and edge blank lines
    normalised away (none of which changes what ``parse`` reads)."""
    lines = [line.rstrip() for line in text.removeprefix("\ufeff").splitlines()]
    normalised = "\n".join(lines).strip("\n")
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()


def _section_kind(entry: Entry) -> EntryKind:
    return entry.kind if entry.kind in KIND_HEADINGS else "note"


def _render_bullet(entry: Entry) -> list[str]:
    flags: list[str] = [entry.status] if entry.status != "active" else []
    flags += ["pinned"] if entry.pinned else []
    head = f"- **{_escape(entry.key, is_key=True)}**"
    head += f" ({', '.join(flags)}):" if flags else ":"
    body = _escape(entry.value, is_key=False)
    if entry.rationale:
        body += (" " if body else "") + f"— why: {_escape(entry.rationale, is_key=False)}"
    first, *rest = f"{head} {body}".split("\n")
    return [first.rstrip()] + [(CONTINUATION_INDENT + line).rstrip() for line in rest]


def _bullet_blocks(text: str) -> list[tuple[EntryKind, list[str]]]:
    """Each bullet's lines (first without its marker, continuations stripped)."""
    blocks: list[tuple[EntryKind, list[str]]] = []
    kind: EntryKind = "note"
    current: list[str] | None = None
    blank_lines = 0
    in_comment = False
    for raw in text.removeprefix("\ufeff").splitlines():
        line = raw.strip()
        if in_comment:
            in_comment = "-->" not in line
            continue
        if not line:
            blank_lines += current is not None
            continue
        if raw[0].isspace() and current is not None:
            current += [""] * blank_lines + [line]
            blank_lines = 0
            continue
        after_blank, blank_lines = blank_lines > 0, 0
        if line.startswith("<!--"):
            current, in_comment = None, "-->" not in line[4:]
        elif heading := _HEADING.fullmatch(line):
            level, title = heading.groups()
            kind = "note" if len(level) == 1 else _HEADING_TO_KIND.get(title.lower(), "note")
            current = None
        elif _THEMATIC_BREAK.fullmatch(line):
            current = None
        elif bullet := _BULLET.fullmatch(line):
            current = [bullet.group(1) or ""]
            blocks.append((kind, current))
        elif current is not None and not after_blank:
            current.append(line)  # a lazy continuation line
        else:
            current = [line]  # a paragraph typed instead of a bullet
            blocks.append((kind, current))
    return blocks


def _parse_bullet(lines: list[str]) -> tuple[str, str, str, EntryStatus, bool]:
    """(key or "", value, rationale, status, pinned) of one bullet."""
    text = "\n".join(lines)
    key, pinned = "", False
    status: EntryStatus = "active"
    if key_match := _KEY.match(text):
        key = _unescape(key_match.group(1).strip())
        text = text[key_match.end() :]
        if flags := _FLAGS.match(text):
            for word in re.split(r"[\s,;]+", flags.group(1).lower()):
                status = next((known for known in ENTRY_STATUSES if known == word), status)
                pinned = pinned or word in {"pinned", "pin"}
            text = text[flags.end() :]
        if colon := _COLON.match(text):
            text = text[colon.end() :]
    value, *why = _SEPARATOR.split(text, maxsplit=1)
    rationale = why[0] if why else ""
    return key, _unescape(value.strip()), _unescape(rationale.strip()), status, pinned


def _escape(text: str, *, is_key: bool) -> str:
    """``text`` as written in the file (see the module docstring)."""
    encoded = _positions_to_encode(text, is_key=is_key)
    why_colons = set() if is_key else {match.end() for match in _WHY_COLON.finditer(text)}
    tokens: list[str] = []
    for i, char in enumerate(text):
        if i in encoded:
            tokens.append(f"&#{ord(char)};")
        elif i in why_colons or (is_key and char == "*") or text.startswith("&#", i):
            tokens.append("\\" + char)
        else:
            tokens.append(char)
    for i, token in enumerate(tokens):
        following = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        if token == "\\" and (not following or following in _PUNCTUATION):
            tokens[i] = "\\\\"
    return "".join(tokens)


def _positions_to_encode(text: str, *, is_key: bool) -> set[int]:
    """Where ``text`` has line breaks or whitespace that the file cannot hold as is."""
    keeps_newlines = not is_key
    positions = {
        i
        for i, char in enumerate(text)
        if char in _LINE_BREAKS and not (keeps_newlines and char == "\n")
    }
    for run in re.finditer(r"\s+", text):
        at_edge = run.start() == 0 or run.end() == len(text)
        around_newline = keeps_newlines and "\n" in run.group()
        if at_edge or around_newline:
            span = range(run.start(), run.end())
            positions.update(i for i in span if at_edge or text[i] != "\n")
    return positions


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        punctuation, decimal, hexadecimal = match.groups()
        if punctuation is not None:
            return str(punctuation)
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group()

    return _UNESCAPE.sub(replace, text)


def _slug(text: str) -> str:
    """Kebab-case of the first words of ``text``, at most MAX_DERIVED_KEY_LENGTH long."""
    slug = ""
    for word in _SLUG_WORD.findall(text.lower()):
        longer = f"{slug}-{word}" if slug else word
        if len(longer) > MAX_DERIVED_KEY_LENGTH:
            return slug or word[:MAX_DERIVED_KEY_LENGTH]
        slug = longer
    return slug or "note"


def _unique(key: str, taken: set[str]) -> str:
    candidate, number = key, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = key[: MAX_DERIVED_KEY_LENGTH - len(suffix)].rstrip("-") + suffix
    return candidate


def _differs(one: Entry | None, other: Entry | None) -> bool:
    if one is None or other is None:
        return one is not other
    return _comparable(one) != _comparable(other)


def _comparable(entry: Entry) -> tuple[str, str, str, str, bool]:
    return (entry.kind, entry.value, entry.rationale, entry.status, entry.pinned)


def derive_key(text: str, taken: set[str]) -> str:
    """A key for an entry written without one: a slug of its first words, unique."""
    return _unique(_slug(text), taken)
