"""The refs of the shadow repository, read back as records of turns, undos and
rollbacks; and the questions asked of them (versions of a file, what to prune).

    refs/mnemo/live/<session>/<turn>/{before,after,outside}     a turn that can be undone
    refs/mnemo/attic/<session>/<turn>/<stamp>/{...}              a turn that was undone
    refs/mnemo/undo/<session>/<stamp>/{tree,outside}             what an undo replaced
    refs/mnemo/rollback/<stamp>/{tree,outside}                   what a rollback replaced

Each commit's message is one line of JSON (session, turn, phase, created), so a
record needs nothing but the refs to be read back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnemocode.safety.checkpoints import outside
from mnemocode.safety.checkpoints.model import UNKNOWN, Entry, FileVersion, encode_ref_part
from mnemocode.safety.checkpoints.shadow import ShadowRepo

NS = "refs/mnemo"
_TREE_PHASES = {"before", "after", "tree"}


@dataclass(slots=True)
class Record:
    """The refs of one turn (live or undone), or of one undo or rollback."""

    prefix: str
    kind: str  # live, attic, undo, rollback
    session: str
    turn: int | None
    created: float
    refs: dict[str, str] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)  # when each ref's commit was made

    @property
    def number(self) -> int:
        return self.turn if self.turn is not None else -1


def live_prefix(session: str, turn: int) -> str:
    return f"{NS}/live/{encode_ref_part(session)}/{int(turn)}"


def message(session: str, turn: int | None, phase: str, created: float) -> str:
    meta = {"mnemo": 1, "session": session, "turn": turn, "phase": phase, "created": created}
    return json.dumps(meta) + "\n"


def read(repo: ShadowRepo, pattern: str = f"{NS}/") -> list[Record]:
    """Records under ``pattern`` (a ref prefix, matched up to a slash)."""
    records: dict[str, Record] = {}
    for ref in repo.refs(pattern):
        prefix, _, phase = ref.name.rpartition("/")
        try:
            meta: dict[str, Any] = json.loads(ref.subject)
            session, turn, created = str(meta["session"]), meta["turn"], float(meta["created"])
        except (ValueError, KeyError, TypeError):
            continue  # not written by us
        kind = prefix.split("/")[2]
        record = records.setdefault(prefix, Record(prefix, kind, session, turn, created))
        record.refs[phase] = ref.sha
        record.times[phase] = created
        record.created = min(record.created, created)
    return list(records.values())


def backups(repo: ShadowRepo, record: Record) -> list[outside.Backup]:
    return outside.load(repo, record.refs["outside"]) if "outside" in record.refs else []


def delete(repo: ShadowRepo, records: Sequence[Record]) -> None:
    repo.update_refs({f"{r.prefix}/{phase}": None for r in records for phase in r.refs})


# ---- versions of one file -------------------------------------------------------------


def tree_versions(
    repo: ShadowRepo, records: list[Record], target: Path, rel: bytes
) -> list[FileVersion]:
    """The file as every work-tree snapshot holds it (one ``git log`` for all)."""
    by_commit = {
        sha: (record, phase)
        for record in records
        for phase, sha in record.refs.items()
        if phase in _TREE_PHASES
    }
    versions = []
    for commit, entry in repo.log_path(list(by_commit), rel).items():
        record, phase = by_commit[commit]
        when = record.times[phase]
        versions.append(_version(commit, target, record, _label(record, phase), entry, when=when))
    return versions


def backup_versions(repo: ShadowRepo, records: list[Record], target: Path) -> list[FileVersion]:
    """The file as every backup holds it (by its path, or the path it resolves to)."""
    names = {os.fsencode(target), os.fsencode(os.path.realpath(target))}
    versions = []
    for record in records:
        for backup in backups(repo, record):
            if backup.path not in names:
                continue
            states = [("before", backup.before)]
            if record.kind in ("live", "attic") and backup.after_known:
                states.append(("after", backup.after))
            for phase, state in states:
                if state is not None and state != UNKNOWN:
                    version_id = f"{record.refs['outside']}:{phase}"
                    saved_as = "tree" if record.kind in ("undo", "rollback") else phase
                    when = record.times.get(saved_as, record.created)
                    label = _label(record, saved_as)
                    versions.append(
                        _version(version_id, target, record, label, state, when=when, backup=True)
                    )
    return versions


def newest_distinct(repo: ShadowRepo, versions: list[FileVersion]) -> list[FileVersion]:
    """Newest first, one per distinct (content, mode), sizes filled in."""
    sizes = repo.sizes(v.sha for v in versions)
    seen: set[tuple[int, str]] = set()
    unique = []
    for version in sorted(versions, key=lambda v: (v.created, v.phase == "after"), reverse=True):
        if (version.mode, version.sha) not in seen:
            seen.add((version.mode, version.sha))
            unique.append(dataclasses.replace(version, size=sizes.get(version.sha, 0)))
    return unique


def _version(
    version_id: str,
    target: Path,
    record: Record,
    phase: str,
    entry: Entry,
    *,
    when: float,
    backup: bool = False,
) -> FileVersion:
    return FileVersion(
        version_id,
        target,
        record.session,
        record.turn,
        phase,
        when,
        0,
        entry.sha,
        entry.mode,
        backup,
    )


def _label(record: Record, phase: str) -> str:
    if phase == "tree":
        return "pre-undo" if record.kind == "undo" else "pre-rollback"
    return phase


# ---- pruning --------------------------------------------------------------------------


def oldest_to_drop(
    repo: ShadowRepo,
    records: list[Record],
    max_bytes: int,
    protected: Callable[[Record], bool],
) -> list[Record]:
    """The fewest oldest records (``records`` is oldest first) whose removal brings
    the objects the rest reach under ``max_bytes`` (git's packed sizes)."""
    candidates = [r for r in records if not protected(r)]
    always = [sha for r in records if protected(r) for sha in r.refs.values()]

    def fits(dropped: int) -> bool:
        rest = [sha for r in candidates[dropped:] for sha in r.refs.values()]
        return repo.disk_usage([*always, *rest]) <= max_bytes

    low, high = 0, len(candidates)
    while low < high:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle + 1
    return candidates[:low]


def objects_size(git_dir: Path) -> int:
    total = 0
    for folder, _dirs, names in os.walk(git_dir / "objects"):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total
