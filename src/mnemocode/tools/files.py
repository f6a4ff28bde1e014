"""``file_read`` and ``file_write``, and the helpers every file tool shares:
text decoding that round-trips byte-exact, line-ending bookkeeping, atomic writes.

Paths are resolved against ``ctx.cwd``; absolute paths are accepted. Which paths
may be touched is the safety layer's decision, not the tool's.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ContentPart, ImagePart, TextPart
from mnemocode.tools.base import tool

MAX_READ_BYTES = 50 * 1024 * 1024
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_LINE_CHARS = 2000
SHRINK_LIMIT = 0.30  # file_write refuses to drop more than this share of a file
SHRINK_MIN_BYTES = 100  # ... unless the old file is tiny

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_BINARY_MAGIC = (
    (b"\x7fELF", "ELF executable"),
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "zip archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"SQLite format 3\x00", "SQLite database"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_EOL = re.compile(r"\r?\n")


# ---- decoding and encoding -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodedText:
    """A file's text with everything needed to write it back byte-exact.

    ``text`` uses ``\\n`` only; ``eols`` holds the original ending of each ``\\n``
    in order (``"\\n"`` or ``"\\r\\n"``)."""

    text: str
    encoding: str
    bom: bytes
    eols: tuple[str, ...]

    @property
    def dominant_eol(self) -> str:
        crlf = sum(1 for e in self.eols if e == "\r\n")
        return "\r\n" if crlf * 2 > len(self.eols) else "\n"

    @property
    def fallback_note(self) -> str:
        """Set when the text was not UTF-8 and the model should know."""
        if self.encoding in {"cp1252", "latin-1"}:
            return f"not valid UTF-8; decoded as {self.encoding}"
        return ""


def sniff_binary(data: bytes) -> str | None:
    """A short description when ``data`` is not text, else None."""
    for magic, kind in _IMAGE_MAGIC + _BINARY_MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None
    if b"\x00" in data[:8192]:
        return "binary data"
    return None


def image_type(data: bytes) -> str | None:
    kind = sniff_binary(data)
    return kind if kind and kind.startswith("image/") else None


def decode_text(data: bytes) -> DecodedText | None:
    """Decode file bytes; None when they look binary. Tries the BOMs, UTF-8, then
    cp1252 and latin-1 (both of which encode back to the very same bytes)."""
    if sniff_binary(data):
        return None
    bom, encoding = b"", "utf-8"
    for candidate, name in _BOMS:
        if data.startswith(candidate):
            bom, encoding = candidate, name
            break
    body = data[len(bom) :]
    raw: str | None = None
    for name in (encoding, "cp1252", "latin-1") if not bom else (encoding,):
        try:
            raw = body.decode(name)
        except UnicodeDecodeError:
            continue
        encoding = name
        break
    if raw is None:
        return None
    sample = raw[:8192]
    if sample and len(_CONTROL.findall(sample)) > len(sample) * 0.05:
        return None
    eols = tuple(m.group() for m in _EOL.finditer(raw))
    return DecodedText(raw.replace("\r\n", "\n"), encoding, bom, eols)


def encode_text(text: str, like: DecodedText | None, eols: list[str] | None = None) -> bytes:
    """Encode LF ``text`` the way ``like`` was stored: same encoding, BOM and line
    endings (``eols`` gives the ending of each newline; default: the dominant one)."""
    if like is None:
        return text.encode("utf-8")
    if eols is None:
        eol = like.dominant_eol
        out = text.replace("\n", eol) if eol != "\n" else text
    else:
        pieces = text.split("\n")
        out = pieces[0] + "".join(e + p for e, p in zip(eols, pieces[1:], strict=True))
    try:
        return like.bom + out.encode(like.encoding)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise ToolError(
            f"the file is {like.encoding} and cannot hold {bad!r}; "
            "use characters that exist in that encoding"
        ) from exc


# ---- paths and writing ---------------------------------------------------------------


def resolve(ctx: ToolContext, path: str) -> Path:
    if not path.strip():
        raise ToolError("path is empty")
    target = Path(os.path.expanduser(path))
    return target if target.is_absolute() else ctx.cwd / target


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory, fsync, ``os.replace``.

    Keeps the mode of an existing file; follows a symlink to write its target."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _umask() -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


def read_bytes(path: Path, display: str) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ToolError(f"{display} is a directory; use glob to list it")
        if size > MAX_READ_BYTES:
            raise ToolError(
                f"{display} is {human_size(size)}, too large to read; use grep, or shell (sed -n)"
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ToolError(f"{display} does not exist") from exc
    except PermissionError as exc:
        raise ToolError(f"{display}: permission denied") from exc
    except IsADirectoryError as exc:
        raise ToolError(f"{display} is a directory; use glob to list it") from exc


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def count_lines(text: str) -> str:
    """ "N lines" of a text (a last line without a newline counts)."""
    n = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    return f"{n} line" if n == 1 else f"{n} lines"


def line_change_summary(old: str, new: str) -> str:
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            removed += i2 - i1
            added += j2 - j1
    return f"+{added}/-{removed} lines"


# ---- file_read -----------------------------------------------------------------------


@tool(read_only=True)
async def file_read(
    ctx: ToolContext,
    path: str,
    offset: int = 1,
    limit: int | None = None,
    force: bool = False,
) -> str | list[ContentPart]:
    """Read a text file with line numbers, or view an image.

    Args:
        path: Relative to the project root, or absolute.
        offset: First line to read (1-based).
        limit: Max lines to return.
        force: Return the content even if unchanged since your last read.
    """
    target = resolve(ctx, path)
    data = read_bytes(target, path)
    kind = sniff_binary(data)
    if kind is not None:
        return _describe_binary(ctx, path, data, kind)
    decoded = decode_text(data)
    if decoded is None:
        return f"{path} is binary ({human_size(len(data))}); not shown."
    lines = decoded.text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    total = len(lines)
    default_limit = int(ctx.settings.get("file_read_max_lines", 2000))
    limit = default_limit if limit is None or limit <= 0 else limit
    start = max(offset, 1)
    if total and start > total:
        raise ToolError(f"offset {offset} is past the end of {path} ({total} lines)")
    end = min(start - 1 + limit, total)
    whole = start == 1 and end == total
    key = str(target) if whole else f"{target}#L{start}-{end}"
    digest = hashlib.sha256(data).hexdigest()
    if not force and ctx.seen_files.get(key) == digest:
        what = "it" if whole else f"lines {start}-{end}"
        return (
            f"{path} is unchanged since you last read {what} in this session; "
            "pass force=true to see it again."
        )
    ctx.seen_files[key] = digest
    body = "\n".join(
        _numbered(number, line) for number, line in enumerate(lines[start - 1 : end], start)
    )
    notes: list[str] = []
    if decoded.fallback_note:
        notes.append(f"[{path} is {decoded.fallback_note}]")
    if total == 0:
        notes.append(f"[{path} is empty]")
    elif end < total:
        notes.append(
            f"[lines {start}-{end} of {total}; call file_read with offset={end + 1} to read more]"
        )
    return "\n".join(filter(None, [body, *notes]))


def _numbered(number: int, line: str) -> str:
    if len(line) > MAX_LINE_CHARS:
        line = f"{line[:MAX_LINE_CHARS]}… [line cut, {len(line)} chars]"
    return f"{number:>6}\t{line}"


def _describe_binary(
    ctx: ToolContext, path: str, data: bytes, kind: str
) -> str | list[ContentPart]:
    size = human_size(len(data))
    if not kind.startswith("image/"):
        return f"{path} is binary ({kind}, {size}); not shown."
    if not ctx.vision:
        return f"{path} is an image ({kind}, {size}); this model cannot view images."
    if len(data) > MAX_IMAGE_BYTES:
        return f"{path} is an image ({kind}, {size}), too large to attach."
    return [TextPart(f"{path} ({kind}, {size}):"), ImagePart.from_bytes(data, kind)]


# ---- file_write ----------------------------------------------------------------------


def shrink_refusal(path: str, old_size: int, new_size: int) -> str | None:
    """Why file_write refuses to replace ``old_size`` bytes with ``new_size``, if it does
    (the approval preview says it before showing a diff)."""
    shrink = 1 - new_size / old_size if old_size else 0.0
    if old_size < SHRINK_MIN_BYTES or shrink <= SHRINK_LIMIT:
        return None
    return (
        f"refusing to overwrite {path}: the new content is {shrink:.0%} smaller "
        f"({old_size} → {new_size} bytes). Use file_edit to change part of a file, "
        "or pass overwrite_shrink=true to replace it."
    )


@tool()
async def file_write(
    ctx: ToolContext, path: str, content: str, overwrite_shrink: bool = False
) -> str:
    """Create or overwrite a whole file. Prefer file_edit to change part of a file.

    Args:
        path: Relative to the project root, or absolute.
        content: The complete new content.
        overwrite_shrink: Allow replacing a file with content much smaller than it.
    """
    target = resolve(ctx, path)
    if target.is_dir():
        raise ToolError(f"{path} is a directory")
    old: DecodedText | None = None
    old_size = 0
    existed = target.exists()
    if existed:
        data = read_bytes(target, path)
        old_size = len(data)
        old = decode_text(data)
        if old is None and not overwrite_shrink:
            raise ToolError(
                f"{path} is a binary file; pass overwrite_shrink=true to replace it anyway"
            )
    text = content.replace("\r\n", "\n")
    new_data = encode_text(text, old)
    refusal = None if overwrite_shrink else shrink_refusal(path, old_size, len(new_data))
    if refusal is not None:
        raise ToolError(refusal)
    atomic_write(target, new_data)
    if not existed:
        return f"Created {path} ({count_lines(text)})."
    change = line_change_summary(old.text, text) if old is not None else "binary replaced"
    return f"Wrote {path} ({count_lines(text)}, {change})."
