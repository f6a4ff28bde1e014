"""Backups of files the work-tree snapshot does not hold: files outside the work
directory, and ignored files inside it that the snapshot leaves out (over 1 MB, in
a heavy folder, past the count cap: ``ignored.py``) that a file tool is about to write.

A manifest (JSON) and the saved contents live in one commit of the shadow
repository: the manifest maps each absolute path (its bytes, percent-encoded —
lossless) to the state before the turn and, once the turn ended, after it. The
contents are blobs, so identical files are stored once and ``git gc`` prunes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mnemocode.safety.checkpoints.model import (
    MODE_FILE,
    CheckpointError,
    Entry,
    decode_path,
    encode_path,
)
from mnemocode.safety.checkpoints.shadow import ShadowRepo

MANIFEST = b"manifest.json"


@dataclass(slots=True)
class Backup:
    path: bytes  # absolute
    before: Entry | None  # None: the file did not exist
    after: Entry | None = None
    after_known: bool = False


def load(repo: ShadowRepo, commit: str) -> list[Backup]:
    try:
        data = json.loads(repo.read(f"{commit}:manifest.json"))
        return [
            Backup(
                decode_path(item["path"]),
                _entry(item["before"]),
                _entry(item.get("after")),
                bool(item.get("after_known", False)),
            )
            for item in data["files"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"backup manifest {commit} is damaged: {exc}") from exc


def save(repo: ShadowRepo, backups: list[Backup], message: str, when: float) -> str:
    """Write the manifest and a tree that keeps every saved blob alive; the commit id."""
    files = [
        {
            "path": encode_path(b.path),
            "before": _json_entry(b.before),
            "after": _json_entry(b.after),
            "after_known": b.after_known,
        }
        for b in backups
    ]
    manifest = json.dumps({"version": 1, "files": files}, indent=1).encode()
    shas = {e.sha for b in backups for e in (b.before, b.after) if e is not None and e.sha}
    rows = [(MODE_FILE, "blob", sha, sha.encode()) for sha in sorted(shas)]
    rows.append((MODE_FILE, "blob", repo.write_blob(manifest), MANIFEST))
    return repo.commit(repo.make_tree(rows), message, when)


def _entry(value: Any) -> Entry | None:
    if value is None:
        return None
    mode, sha = value
    return Entry(int(mode), str(sha))


def _json_entry(entry: Entry | None) -> list[Any] | None:
    return None if entry is None else [entry.mode, entry.sha]
