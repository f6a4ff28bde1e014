"""Keeping ``.mnemo/MEMORY.md`` and the project database in step.

The database remembers the text it last wrote to the file (``meta``); a file
that differs from it was edited by the user, and the three-way merge in
``mirror.plan_sync`` turns those edits into database writes. Then the file is
rewritten from the database (atomically), unless nothing changed. Beside it,
mnemo's own ``.gitignore`` keeps it out of ``git status`` (see ``gitignore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.config.writer import atomic_write_text
from mnemocode.memory import mirror
from mnemocode.memory.db import transaction
from mnemocode.memory.gitignore import keep_mirror_out_of_git
from mnemocode.memory.stores import MemoryStores

BASE_KEY = "mirror_base"


@dataclass(slots=True)
class MirrorReport:
    path: Path
    applied: int = 0
    deleted: int = 0
    conflicts: list[str] = field(default_factory=list)
    written: bool = False
    # Why nothing was synced (the file unreadable, the work directory gone).
    problem: str = ""

    @property
    def user_edits(self) -> bool:
        return bool(self.applied or self.deleted)

    def describe(self) -> str:
        parts = [f"{self.applied} added or changed", f"{self.deleted} removed"]
        text = f"MEMORY.md edits picked up: {', '.join(parts)}"
        if self.conflicts:
            text += f"; your version kept for {', '.join(self.conflicts)}"
        if self.problem:
            text = f"MEMORY.md not synced: {self.problem}"
        return text


def _meta(memory: MemoryStores, key: str) -> str | None:
    row = memory.project_db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _read(path: Path) -> str | None:
    """The file's text; None when there is no file. Raises ``UnicodeDecodeError``."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None


def sync(memory: MemoryStores, path: Path) -> MirrorReport:
    report = _sync(memory, path)
    if path.is_file():
        keep_mirror_out_of_git(path.parent, commit=memory.config.commit_mirror)
    return report


def _sync(memory: MemoryStores, path: Path) -> MirrorReport:
    report = MirrorReport(path)
    if not path.parent.parent.is_dir():
        report.problem = f"the work directory {path.parent.parent} does not exist"
        return report  # never create a project's folder just to put a mirror in it
    with transaction(memory.project_db):
        base_text = _meta(memory, BASE_KEY)
        try:
            current = _read(path)
        except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
            # Neither applied (its text cannot be trusted) nor overwritten (it
            # holds the user's edits): left for the user to fix.
            report.problem = f"cannot read {path}: {exc}"
            return report
        edited = current is not None and (
            base_text is None or mirror.fingerprint(current) != mirror.fingerprint(base_text)
        )
        if edited and current is not None:
            base = mirror.parse(base_text) if base_text is not None else None
            plan = mirror.plan_sync(memory.entries.all(), mirror.parse(current), base)
            for entry in plan.upserts:
                entry.source = "mirror"
                memory.entries.upsert(entry, keep_pin=False)
            for key in plan.deletes:
                report.deleted += memory.entries.delete(key)
            report.applied = len(plan.upserts)
            report.conflicts = plan.conflicts
        entries = memory.entries.all()
        if not entries and current is None:
            return report  # nothing remembered yet: no file to create
        text = mirror.render(entries, project=memory.project.name)
        if text != current:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text)
            report.written = True
        memory.project_db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (BASE_KEY, text),
        )
    return report
