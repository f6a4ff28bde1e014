"""What the checkpoint store hands out, its errors, and the lossless encodings it uses."""

from __future__ import annotations

import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import quote_from_bytes, unquote, unquote_to_bytes

from mnemocode.core.errors import MnemoError

ChangeKind = Literal["added", "modified", "deleted"]

# git's modes for what a snapshot can hold; outside backups keep the full st_mode.
MODE_FILE = 0o100644
MODE_EXEC = 0o100755
MODE_LINK = 0o120000
MODE_GITLINK = 0o160000


class CheckpointError(MnemoError):
    """A snapshot, undo or restore could not be done; the message says why (git's
    own stderr included when git failed)."""


class CheckpointConflict(CheckpointError):
    """Undo/rewind refused: files the turn(s) changed were changed again since.

    Nothing was touched. ``paths`` lists them; call again with ``force=True`` to
    overwrite them (their current content is saved first and stays restorable)."""

    hint = "these files changed after the turn; undo with force to overwrite them"

    def __init__(self, message: str, paths: list[Path]) -> None:
        self.paths = paths
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The snapshot taken before ``turn`` of ``session`` first changed anything."""

    id: str  # the snapshot's commit id in the shadow repository
    session: str
    turn: int
    created: float  # epoch seconds
    finished: bool  # end_turn recorded the state after the turn
    undone: bool = False


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file a turn changed — or, returned by undo/rewind/restore, one file that
    call changed. ``outside``: a file backup, not part of the work-tree snapshot."""

    path: Path
    kind: ChangeKind
    outside: bool = False


@dataclass(frozen=True, slots=True)
class FileVersion:
    """One saved content of one file; ``id`` goes to ``restore_version``."""

    id: str
    path: Path
    session: str
    turn: int | None  # None for the copies undo and rollback keep of what they replaced
    phase: str  # before, after (a turn), pre-undo, pre-rollback
    created: float  # epoch seconds
    size: int
    sha: str  # git blob id of the content (of the link target for a link)
    mode: int  # git's 100644/100755/120000, or the full st_mode of a backup
    backup: bool = False  # from a file backup rather than the work-tree snapshot

    @property
    def symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def executable(self) -> bool:
        return not self.symlink and bool(self.mode & 0o111)

    def describe(self) -> str:
        """One line for a list: when, which turn, size, mode."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created))
        turn = f"turn {self.turn}" if self.turn is not None else "saved by mnemo"
        what = (
            "link" if self.symlink else f"{self.size} bytes" + (", +x" if self.executable else "")
        )
        return (
            f"{when}  {turn} ({self.phase}, session {self.session or '-'})  {what}  {self.sha[:10]}"
        )


class Entry(NamedTuple):
    """A file's state: its mode and the git blob id of its content (or link target)."""

    mode: int
    sha: str


# A path that exists on disk but cannot be snapshotted (ignored, a directory, a fifo):
# never equal to a real entry, so it always counts as a conflict.
UNKNOWN = Entry(-1, "")

_REF_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def encode_ref_part(text: str) -> str:
    """Lossless and always valid inside a git ref name (percent-encoded UTF-8)."""
    if not text:
        raise CheckpointError("a checkpoint session id must not be empty")
    out = []
    for char in text:
        if char in _REF_SAFE:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def decode_ref_part(part: str) -> str:
    return unquote(part, errors="surrogatepass")


def encode_path(path: bytes) -> str:
    """An absolute path's bytes as JSON-safe text; ``decode_path`` gives them back."""
    return quote_from_bytes(path, safe="/")


def decode_path(text: str) -> bytes:
    return unquote_to_bytes(text)
