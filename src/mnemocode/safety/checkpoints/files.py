"""Reading a file's state from disk and putting a saved state back, byte for byte.

Paths are bytes throughout, so any name the file system allows (newlines, invalid
UTF-8) survives. Writes go to a temporary file in the same directory and are moved
into place, so a file is never left half-written.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from mnemocode.safety.checkpoints.model import (
    MODE_EXEC,
    MODE_LINK,
    UNKNOWN,
    ChangeKind,
    CheckpointError,
    Entry,
    FileChange,
)

_CHUNK = 1 << 20


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def file_blob_id(path: bytes, size: int) -> str:
    digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def disk_entry(path: bytes) -> Entry | None:
    """The file's full st_mode and content id; None when nothing is there, UNKNOWN
    for what a backup cannot hold (a directory, a fifo, an unreadable file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError:
        return UNKNOWN
    try:
        if stat.S_ISLNK(st.st_mode):
            return Entry(st.st_mode, blob_id(os.readlink(path)))
        if stat.S_ISREG(st.st_mode):
            return Entry(st.st_mode, file_blob_id(path, st.st_size))
    except OSError:
        return UNKNOWN
    return UNKNOWN


def put_back(
    targets: Mapping[tuple[bytes, bool], Entry | None],
    read: Callable[[str], bytes],
    workdir: bytes,
) -> list[FileChange]:
    """Make each absolute path what ``targets`` says (None: absent); the flag marks a
    backup, restored with its exact mode and never pruned of empty parents.
    Deletions go first, deepest first, so a directory can become a file and back."""
    done: list[FileChange] = []
    for path, exact in sorted(
        (k for k, t in targets.items() if t is None), key=lambda k: -len(k[0])
    ):
        if remove(path):
            done.append(FileChange(Path(os.fsdecode(path)), "deleted", outside=exact))
            if not exact:
                remove_empty_parents(path, workdir)
    for (path, exact), target in sorted(targets.items(), key=lambda item: len(item[0][0])):
        if target is None:
            continue
        kind: ChangeKind = "modified" if os.path.lexists(path) else "added"
        try:
            make_parents(path, b"/" if exact else workdir)
            write(path, target, read(target.sha), exact_mode=exact)
        except OSError as exc:
            raise CheckpointError(f"cannot restore {os.fsdecode(path)}: {exc.strerror}") from exc
        done.append(FileChange(Path(os.fsdecode(path)), kind, outside=exact))
    return done


def remove(path: bytes) -> bool:
    """Delete a file or link; directories are left alone. Whether anything went."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        return False
    try:
        os.unlink(path)
    except OSError as exc:
        raise CheckpointError(f"cannot remove {os.fsdecode(path)}: {exc.strerror}") from exc
    return True


def remove_empty_parents(path: bytes, stop: bytes) -> None:
    """rmdir the now-empty directories above ``path``, up to (not including) ``stop``."""
    parent = os.path.dirname(path)
    while parent.startswith(stop + b"/") and parent != stop:
        try:
            os.rmdir(parent)
        except OSError:
            return
        parent = os.path.dirname(parent)


def make_parents(path: bytes, base: bytes) -> None:
    """Create the directories above ``path`` below ``base``, refusing to go through a
    symbolic link or a file, so a restore can never be redirected elsewhere."""
    rel = os.path.relpath(os.path.dirname(path), base)
    current = base
    if rel == b".":
        return
    for part in rel.split(b"/"):
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current)
            continue
        if not stat.S_ISDIR(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a directory"
            raise CheckpointError(
                f"cannot restore {os.fsdecode(path)}: {os.fsdecode(current)} is {kind}"
            )


def write(path: bytes, entry: Entry, data: bytes, *, exact_mode: bool) -> None:
    """Put ``data`` at ``path`` as ``entry`` says: a symbolic link, or a file with the
    saved mode (``exact_mode``: all permission bits, for outside backups) or with
    git's executable bit applied to the file's current permissions."""
    try:
        st: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        try:
            os.rmdir(path)
        except OSError as exc:
            raise CheckpointError(
                f"cannot restore {os.fsdecode(path)}: a non-empty directory is in its place"
            ) from exc
        st = None
    if stat.S_ISLNK(entry.mode) or entry.mode == MODE_LINK:
        if st is not None:
            os.unlink(path)
        os.symlink(data, path)
        return
    executable = bool(entry.mode & 0o111)
    perms = _permissions(entry, st, exact_mode=exact_mode)
    head, tail = os.path.split(path)
    temp = os.path.join(head, b"." + tail[:40] + b".mnemo-" + secrets.token_hex(4).encode())
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if executable else 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if perms is not None:
                os.fchmod(fh.fileno(), perms)
        os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise


def _permissions(entry: Entry, st: os.stat_result | None, *, exact_mode: bool) -> int | None:
    if exact_mode:
        return entry.mode & 0o7777
    if st is None or not stat.S_ISREG(st.st_mode):
        return None  # a new file: 0o666 or 0o777 less the umask, as git does
    perms = st.st_mode & 0o7777
    if entry.mode == MODE_EXEC:
        return perms | ((perms & 0o444) >> 2)
    return perms & ~0o111
