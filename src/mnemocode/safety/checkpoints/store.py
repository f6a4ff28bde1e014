"""``CheckpointStore``: snapshots per turn, undo, rewind, rollback of one file, pruning.

A turn's checkpoint is a snapshot of the work tree taken before the turn first
changes anything (``begin_turn``) and one taken when it ends (``end_turn``), plus
backups of files the snapshot does not hold (``backup_outside``). Shell commands
are covered because the snapshot is of the whole work tree, not of the files a
tool named; small files the repository's .gitignore ignores are in it too
(``ignored.py``). Everything lives in ``state_dir`` — a shadow git repository whose refs
name the session and turn (``records.py``) — so a new process can undo what an
earlier one recorded.

Undo is surgical: it restores only the paths the undone turns changed, so edits
the user made elsewhere stay. When one of those paths changed again after the
turn (by the user, or by a later turn that is not being undone), undo refuses
with ``CheckpointConflict`` and touches nothing, unless ``force=True``. Whatever
an undo or a rollback overwrites is saved first and listed by ``versions``.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mnemocode.safety.checkpoints import files, ignored, outside, records
from mnemocode.safety.checkpoints.layout import Layout, detect
from mnemocode.safety.checkpoints.model import (
    UNKNOWN,
    ChangeKind,
    Checkpoint,
    CheckpointConflict,
    CheckpointError,
    Entry,
    FileChange,
    FileVersion,
    encode_ref_part,
)
from mnemocode.safety.checkpoints.records import NS, Record
from mnemocode.safety.checkpoints.shadow import ShadowRepo, clean_env

# (outside, path): outside → an absolute path, restored with its exact mode; else a
# path relative to the shadow work tree, with git's modes.
Key = tuple[bool, bytes]
State = Entry | None
_ANY = Entry(-2, "any")  # the state after a turn is not known: nothing conflicts
_LOOSE_LIMIT = 5_000  # unpacked objects before prune packs them (git's gc.auto: 6,700)


@dataclass(slots=True)
class _Plan:
    targets: dict[Key, State]  # what each path goes back to
    current: dict[Key, State]  # what each path is now
    conflicts: list[Key]
    now_tree: str


class CheckpointStore:
    def __init__(
        self, state_dir: Path, workdir: Path, *, env: dict[str, str] | None = None
    ) -> None:
        """``state_dir``: the store's own directory (``<project state>/checkpoints``),
        outside the repository. ``env``: where to look for the user's git excludes
        (HOME, XDG_CONFIG_HOME); this process's environment by default. Nothing
        is created or run until the first call."""
        self.state_dir = Path(os.path.abspath(state_dir))
        self.workdir = workdir.resolve()
        self.last_warnings = ""  # what git could not read in the last snapshot
        self._user_env = clean_env(env)
        self._layout_cache: Layout | None = None
        self._repo_cache: ShadowRepo | None = None
        self._thread_lock = threading.Lock()
        # Turns this store began: ending any other turn has nothing to record, so
        # a turn without writes costs no git call. (A turn is begun and ended by
        # the same process.)
        self._begun: set[tuple[str, int]] = set()

    # ---- recording --------------------------------------------------------------------

    def prepare(self) -> None:
        """Index the work tree without recording anything, so that the first
        ``begin_turn`` is as quick as later ones (worth a thread at start-up)."""
        with self._locked() as repo:
            self._snapshot(repo)

    def begin_turn(self, session: str, turn: int) -> Checkpoint:
        """Snapshot the work tree before ``turn`` changes anything: call it before
        the turn's first tool call that may modify files. Later calls for the same
        (session, turn) return the same checkpoint."""
        with self._locked() as repo:
            return self._begin(repo, session, turn)

    def end_turn(self, session: str, turn: int) -> None:
        """Record the state after the turn (nothing to do for a turn that never began)."""
        if (session, turn) not in self._begun:
            return
        with self._locked() as repo:
            record = self._record(repo, records.live_prefix(session, turn))
            if record is None or "before" not in record.refs:
                return
            updates = {f"{record.prefix}/after": self._commit(repo, session, turn, "after")}
            if "outside" in record.refs:
                saved = records.backups(repo, record)
                for backup in saved:
                    backup.after, backup.after_known = self._save_disk(repo, backup.path), True
                updates[f"{record.prefix}/outside"] = self._save_backups(
                    repo, saved, session, turn, "outside"
                )
            repo.update_refs(updates)

    def backup_outside(self, session: str, turn: int, path: Path) -> bool:
        """Before a write the work-tree snapshot does not cover — outside the work
        directory, or inside it but ignored, in ``.git`` or in a nested repository —
        save the file, or that it did not exist. ``path`` (relative: to the work
        directory) is resolved first, since a write goes through links. The first
        backup of a path in a turn wins. Begins the turn if needed. Returns whether
        the path is backed up: False when the snapshot covers it, or when it is
        nothing a backup holds (a directory, a device such as /dev/null, a file
        this process cannot read)."""
        target = Path(os.path.realpath(self.workdir / path))
        raw = os.fsencode(target)
        with self._locked() as repo:
            self._begin(repo, session, turn)
            if self._covered(repo, target):
                return False
            record = self._record(repo, records.live_prefix(session, turn))
            assert record is not None
            saved = records.backups(repo, record)
            if any(b.path == raw for b in saved):
                return True
            state = self._save_disk(repo, raw)
            if state == UNKNOWN:
                return False
            saved.append(outside.Backup(raw, state))
            commit = self._save_backups(repo, saved, session, turn, "outside")
            repo.update_refs({f"{record.prefix}/outside": commit})
            return True

    # ---- reading ----------------------------------------------------------------------

    def changes(self, session: str, turn: int) -> list[FileChange]:
        """What the turn changed: work-tree files, then backed-up files."""
        with self._locked() as repo:
            turns = self._live(repo, session)
            record = _require(turns, session, turn)
            after = self._after(repo, record, turns)
            found = [
                FileChange(self._abs(c.path), _kind(c.old, c.new))
                for c in repo.diff(record.refs["before"], after)
            ]
            for backup in records.backups(repo, record):
                now = backup.after if backup.after_known else files.disk_entry(backup.path)
                if now != backup.before:
                    path = Path(os.fsdecode(backup.path))
                    found.append(FileChange(path, _kind(backup.before, now), outside=True))
            return found

    def versions(self, path: Path) -> list[FileVersion]:
        """Every saved content of one file (relative paths: to the work directory),
        newest first — one entry per distinct content and mode, at the newest
        checkpoint that holds it."""
        if not self._exists():
            return []
        target = Path(os.path.abspath(self.workdir / path))
        with self._locked() as repo:
            every = records.read(repo)
            found = records.backup_versions(repo, every, target)
            if target.is_relative_to(self.workdir):
                rel = self._layout().rel(target)
                found += records.tree_versions(repo, every, target, rel)
            return records.newest_distinct(repo, found)

    # ---- going back -------------------------------------------------------------------

    def undo(self, session: str, turn: int, *, force: bool = False) -> list[FileChange]:
        """Put the files ``turn`` changed back as they were before it: files it
        created are removed, files it modified or deleted come back, backed-up
        files are restored. Returns what this call changed on disk."""
        with self._locked() as repo:
            turns = self._live(repo, session)
            return self._undo(repo, session, [_require(turns, session, turn)], turns, force)

    def rewind(self, session: str, to_turn: int, *, force: bool = False) -> list[FileChange]:
        """Back to the state after ``to_turn``: undo every later turn of ``session``,
        newest first, as one operation (conflicts are checked for all of them
        before anything is touched). ``to_turn=0`` undoes every turn."""
        with self._locked() as repo:
            turns = self._live(repo, session)
            later = [turns[t] for t in sorted(turns, reverse=True) if t > to_turn]
            return self._undo(repo, session, later, turns, force) if later else []

    def restore_version(self, path: Path, version_id: str) -> list[FileChange]:
        """Put one saved version (an id from ``versions``) of one file back. What it
        replaces is saved first, so this can be undone the same way."""
        commit, _, phase = version_id.partition(":")
        if (
            len(commit) != 40
            or commit.strip("0123456789abcdef")
            or phase not in ("", "before", "after")
        ):
            raise CheckpointError(f"not a version id: {version_id!r}")
        target = Path(os.path.abspath(self.workdir / path))
        with self._locked() as repo:
            key, state = self._saved_state(repo, target, commit, phase)
            if state is None:
                raise CheckpointError(f"version {version_id} holds no content for {target}")
            now_tree = self._snapshot(repo)
            now = {} if key[0] else repo.ls_tree(now_tree, [key[1]])
            plan = _Plan({key: state}, {key: self._current(key, now)}, [], now_tree)
            return self._apply(repo, plan, f"{NS}/rollback/{time.time_ns()}", "", "pre-rollback")

    # ---- housekeeping -----------------------------------------------------------------

    def prune(
        self, *, max_age_days: float, max_bytes: int, keep_sessions: Collection[str] = ()
    ) -> int:
        """Drop records older than ``max_age_days``, then the oldest ones until the
        store fits in ``max_bytes`` (git's packed size), and ``git gc`` the rest
        (when something went, or many objects are still unpacked). Live
        checkpoints of ``keep_sessions`` are never dropped. Returns how many
        records (turns, undos, rollbacks) went. Takes seconds on a large
        repository when it packs: run it off the main thread."""
        if not self._exists():
            return 0
        with self._locked() as repo:
            every = sorted(records.read(repo), key=lambda r: r.created)
            kept = set(keep_sessions)

            def protected(record: Record) -> bool:
                return record.kind == "live" and record.session in kept

            cutoff = time.time() - max_age_days * 86400
            dropped = [r for r in every if r.created < cutoff and not protected(r)]
            remaining = [r for r in every if r not in dropped]
            records.delete(repo, dropped)
            if dropped or repo.loose_objects() > _LOOSE_LIMIT:
                repo.gc()
            if records.objects_size(repo.git_dir) > max_bytes:
                more = records.oldest_to_drop(repo, remaining, max_bytes, protected)
                records.delete(repo, more)
                repo.gc()
                dropped += more
            return len(dropped)

    def list(
        self, session: str | None = None, *, include_undone: bool = False
    ) -> builtins.list[Checkpoint]:
        """Checkpoints (of one session, or all), oldest first; undone ones only
        with ``include_undone``. (Last in the class: the name shadows ``list``.)"""
        if not self._exists():
            return []
        kinds = {"live", "attic"} if include_undone else {"live"}
        with self._locked() as repo:
            found = [r for r in records.read(repo) if r.kind in kinds and "before" in r.refs]
        return [
            Checkpoint(
                r.refs["before"],
                r.session,
                r.number,
                r.created,
                "after" in r.refs,
                undone=r.kind == "attic",
            )
            for r in sorted(found, key=lambda r: (r.created, r.number))
            if session is None or r.session == session
        ]

    # ---- internals --------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[ShadowRepo]:
        """One operation at a time, across threads and processes (two terminals)."""
        with self._thread_lock:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with open(self.state_dir / "lock", "a+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    repo = self._repo()
                    repo.ensure_init()
                    yield repo
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _exists(self) -> bool:
        return (self.state_dir / "shadow.git" / "HEAD").exists()

    def _layout(self) -> Layout:
        if self._layout_cache is None:
            self._layout_cache = detect(self.workdir, self.state_dir, self._user_env)
        return self._layout_cache

    def _repo(self) -> ShadowRepo:
        if self._repo_cache is None:
            self._repo_cache = ShadowRepo(
                self.state_dir / "shadow.git", self.state_dir / "index", self._layout().root
            )
        return self._repo_cache

    def _abs(self, rel: bytes) -> Path:
        return self._layout().root / os.fsdecode(rel)

    def _path(self, key: Key) -> bytes:
        return key[1] if key[0] else os.fsencode(self._layout().root) + b"/" + key[1]

    def _snapshot(self, repo: ShadowRepo) -> str:
        layout = self._layout()
        changed = repo.set_excludes(layout.excludes())
        private = layout.rel(layout.private) if layout.private.is_relative_to(layout.root) else None
        tree, self.last_warnings = repo.snapshot(
            layout.pathspec, rules_changed=changed, private=private
        )
        return tree

    def _commit(
        self,
        repo: ShadowRepo,
        session: str,
        turn: int | None,
        phase: str,
        tree: str = "",
        *,
        created: float | None = None,
    ) -> str:
        tree = tree or self._snapshot(repo)
        created = time.time() if created is None else created
        return repo.commit(tree, records.message(session, turn, phase, created), created)

    def _save_backups(
        self,
        repo: ShadowRepo,
        saved: builtins.list[outside.Backup],
        session: str,
        turn: int | None,
        phase: str,
    ) -> str:
        created = time.time()
        return outside.save(repo, saved, records.message(session, turn, phase, created), created)

    def _record(self, repo: ShadowRepo, prefix: str) -> Record | None:
        return next((r for r in records.read(repo, prefix) if r.prefix == prefix), None)

    def _live(self, repo: ShadowRepo, session: str) -> dict[int, Record]:
        pattern = f"{NS}/live/{encode_ref_part(session)}"
        return {r.number: r for r in records.read(repo, pattern) if "before" in r.refs}

    def _begin(self, repo: ShadowRepo, session: str, turn: int) -> Checkpoint:
        if turn < 0:
            raise CheckpointError(f"a turn number cannot be negative: {turn}")
        self._begun.add((session, turn))
        prefix = records.live_prefix(session, turn)
        record = self._record(repo, prefix)
        if record is not None and "before" in record.refs:
            before = record.refs["before"]
            return Checkpoint(before, session, turn, record.created, "after" in record.refs)
        created = time.time()
        commit = self._commit(repo, session, turn, "before", created=created)
        repo.update_refs({f"{prefix}/before": commit}, create_only=True)
        return Checkpoint(commit, session, turn, created, finished=False)

    def _covered(self, repo: ShadowRepo, target: Path) -> bool:
        """Whether the work-tree snapshot holds ``target``."""
        if not target.is_relative_to(self.workdir) or target == self.workdir:
            return False
        parts = target.relative_to(self.workdir).parts
        if ".git" in parts:
            return False
        folder = self.workdir
        for part in parts[:-1]:
            folder /= part
            if os.path.lexists(folder / ".git"):
                return False  # a nested repository: git keeps only a link to it
        rel = self._layout().rel(target)
        source = repo.ignored_by(rel)
        if source is None:
            return True
        # A small file a .gitignore ignores is in the snapshot too (or will be).
        return (
            os.path.basename(source) == b".gitignore"
            and not ignored.heavy(rel)
            and ignored.small_enough(os.fsencode(target))
        )

    def _save_disk(self, repo: ShadowRepo, path: bytes) -> State:
        """The file's state, its content stored in the shadow repository."""
        state = files.disk_entry(path)
        if state is None or state == UNKNOWN:
            return state
        if os.path.islink(path):
            repo.write_blob(os.readlink(path))
            return state
        stored = repo.write_file_blob(path)
        return state if stored == state.sha else Entry(state.mode, stored)  # changed meanwhile

    def _saved_state(
        self, repo: ShadowRepo, target: Path, commit: str, phase: str
    ) -> tuple[Key, State]:
        if not phase:  # a work-tree snapshot
            if not target.is_relative_to(self.workdir):
                raise CheckpointError(f"{target} is outside the work directory {self.workdir}")
            rel = self._layout().rel(target)
            return (False, rel), repo.ls_tree(commit, [rel]).get(rel)
        names = {os.fsencode(target), os.fsencode(os.path.realpath(target))}
        for backup in outside.load(repo, commit):
            if backup.path in names:
                return (True, backup.path), backup.after if phase == "after" else backup.before
        return (True, os.fsencode(target)), None

    def _after(self, repo: ShadowRepo, record: Record, turns: dict[int, Record]) -> str:
        """The state after a turn: its own record, else the start of the next turn,
        else now (a turn whose process died before ``end_turn``)."""
        if "after" in record.refs:
            return record.refs["after"]
        later = [t for t in turns if t > record.number]
        return turns[min(later)].refs["before"] if later else self._snapshot(repo)

    def _current(self, key: Key, now: dict[bytes, Entry]) -> State:
        if key[0]:
            return files.disk_entry(key[1])
        if key[1] in now:
            return now[key[1]]
        path = self._path(key)
        if os.path.lexists(path) and not os.path.isdir(path):
            return UNKNOWN  # on disk but not in the snapshot (ignored now)
        return None

    def _plan(self, repo: ShadowRepo, undone: Sequence[Record], turns: dict[int, Record]) -> _Plan:
        """Walk the undone turns newest first: each path must be as the turn left it
        (else a conflict), and goes back to what it was before the turn."""
        now_tree = self._snapshot(repo)
        now = repo.ls_tree(now_tree)
        state: dict[Key, State] = {}
        current: dict[Key, State] = {}
        conflicts: builtins.list[Key] = []
        for record in undone:
            for key, before, after in self._turn_changes(repo, record, turns):
                if key not in current:
                    now_state = self._current(key, now)
                    if now_state == UNKNOWN and after is None and not key[0]:
                        continue  # an ignored file that grew past the cap: left alone
                    current[key] = state[key] = now_state
                if after != _ANY and state[key] != after and key not in conflicts:
                    conflicts.append(key)
                state[key] = before
        return _Plan(state, current, conflicts, now_tree)

    def _turn_changes(
        self, repo: ShadowRepo, record: Record, turns: dict[int, Record]
    ) -> Iterator[tuple[Key, State, State]]:
        for change in repo.diff(record.refs["before"], self._after(repo, record, turns)):
            yield (False, change.path), change.old, change.new
        for backup in records.backups(repo, record):
            yield (True, backup.path), backup.before, backup.after if backup.after_known else _ANY

    def _undo(
        self,
        repo: ShadowRepo,
        session: str,
        undone: Sequence[Record],
        turns: dict[int, Record],
        force: bool,
    ) -> builtins.list[FileChange]:
        plan = self._plan(repo, undone, turns)
        if plan.conflicts and not force:
            paths = [Path(os.fsdecode(self._path(k))) for k in plan.conflicts]
            shown = ", ".join(str(p) for p in paths[:5]) + (", …" if len(paths) > 5 else "")
            raise CheckpointConflict(
                f"{len(paths)} file(s) changed after the turn and would be overwritten: {shown}",
                paths,
            )
        stamp = time.time_ns()
        done = self._apply(
            repo, plan, f"{NS}/undo/{encode_ref_part(session)}/{stamp}", session, "pre-undo"
        )
        moves: dict[str, str | None] = {}
        for record in undone:  # into the attic: the turn numbers are free again
            attic = f"{NS}/attic/{encode_ref_part(session)}/{record.number}/{stamp}"
            for phase, sha in record.refs.items():
                moves[f"{record.prefix}/{phase}"] = None
                moves[f"{attic}/{phase}"] = sha
        repo.update_refs(moves)
        return done

    def _apply(
        self, repo: ShadowRepo, plan: _Plan, record: str, session: str, phase: str
    ) -> builtins.list[FileChange]:
        """Save what is about to be replaced, then put the targets in place.
        Deletions go first, deepest first, so a directory can become a file."""
        todo = {k: t for k, t in plan.targets.items() if plan.current.get(k) != t}
        if not todo:
            return []
        self._save_replaced(repo, plan, todo, record=record, session=session, phase=phase)
        with repo.blob_reader() as reader:
            return files.put_back(
                {(self._path(k), k[0]): t for k, t in todo.items()},
                reader.read,
                os.fsencode(self.workdir),
            )

    def _save_replaced(
        self,
        repo: ShadowRepo,
        plan: _Plan,
        todo: dict[Key, State],
        *,
        record: str,
        session: str,
        phase: str,
    ) -> None:
        """Keep what undo/rollback overwrites: the work tree as a snapshot, and as
        backups the files that snapshot cannot hold."""
        updates = {f"{record}/tree": self._commit(repo, session, None, phase, plan.now_tree)}
        saved = []
        for key, target in todo.items():
            if key[0] or plan.current.get(key) == UNKNOWN:
                path = self._path(key)
                state = self._save_disk(repo, path)
                if state is not None and state != UNKNOWN:
                    saved.append(outside.Backup(path, state, target, after_known=True))
        if saved:
            updates[f"{record}/outside"] = self._save_backups(repo, saved, session, None, phase)
        repo.update_refs(updates)


def _require(turns: dict[int, Record], session: str, turn: int) -> Record:
    if turn not in turns:
        raise CheckpointError(f"no checkpoint for turn {turn} of session {session!r}")
    return turns[turn]


def _kind(old: State, new: State) -> ChangeKind:
    if old is None:
        return "added"
    return "deleted" if new is None else "modified"
