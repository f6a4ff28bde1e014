"""The shadow repository: git plumbing on a private GIT_DIR whose work tree is the project.

Everything runs with a clean environment: no system or global git config (so no
filters, hooks, fsmonitor or autocrlf of the user's can change what is stored), a
private index file, literal pathspecs and a fixed identity. ``info/attributes``
switches off every content conversion, so a snapshot holds the bytes on disk.
The user's own ``.git`` is never read or written by these commands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mnemocode.safety.checkpoints import ignored
from mnemocode.safety.checkpoints.model import MODE_GITLINK, CheckpointError, Entry

ZERO = "0" * 40
_ATTRIBUTES = b"* -text -eol -ident -filter -working-tree-encoding -export-subst -diff -merge\n"
_CONFIG = {
    "core.autocrlf": "false",
    "core.safecrlf": "false",
    "core.logAllRefUpdates": "false",
    "gc.auto": "0",
    "advice.addEmbeddedRepo": "false",
    "advice.addIgnoredFile": "false",
}

Arg = str | bytes


def clean_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without any GIT_* variable (GIT_DIR, GIT_INDEX_FILE, ...)."""
    env = dict(os.environ if base is None else base)
    return {k: v for k, v in env.items() if not k.startswith("GIT_")}


@dataclass(frozen=True, slots=True)
class RefInfo:
    name: str
    sha: str
    subject: str


@dataclass(frozen=True, slots=True)
class TreeChange:
    path: bytes
    old: Entry | None
    new: Entry | None


class ShadowRepo:
    def __init__(self, git_dir: Path, index_file: Path, work_tree: Path) -> None:
        self.git_dir = git_dir
        self.index_file = index_file
        self.work_tree = work_tree
        self._env = clean_env()
        self._env.update(
            GIT_INDEX_FILE=str(index_file),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_ATTR_NOSYSTEM="1",
            GIT_LITERAL_PATHSPECS="1",
            GIT_NO_REPLACE_OBJECTS="1",
            GIT_TERMINAL_PROMPT="0",
            # No user config even where GIT_CONFIG_GLOBAL is unknown (git < 2.32).
            HOME=str(git_dir.parent),
            XDG_CONFIG_HOME=str(git_dir.parent),
            GIT_AUTHOR_NAME="mnemo",
            GIT_AUTHOR_EMAIL="mnemo@localhost",
            GIT_COMMITTER_NAME="mnemo",
            GIT_COMMITTER_EMAIL="mnemo@localhost",
            LC_ALL="C",
        )

    # ---- running git ----------------------------------------------------------------

    def run(
        self,
        *args: Arg,
        stdin: bytes | None = None,
        tree: bool = False,
        env: dict[str, str] | None = None,
        git_dir: Path | None = None,
    ) -> bytes:
        """Run one git command on the shadow repository; ``tree``: with the work tree."""
        done = self.call(*args, stdin=stdin, tree=tree, env=env, git_dir=git_dir)
        if done.returncode != 0:
            raise git_error(args, done.returncode, done.stderr)
        return done.stdout

    def call(
        self,
        *args: Arg,
        stdin: bytes | None = None,
        tree: bool = False,
        env: dict[str, str] | None = None,
        git_dir: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        argv: list[Arg] = ["git", f"--git-dir={git_dir or self.git_dir}"]
        if tree:
            argv.append(f"--work-tree={self.work_tree}")
        argv.extend(args)
        try:
            return subprocess.run(
                argv,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                env={**self._env, **(env or {})},
                cwd=self.work_tree if tree else self.git_dir.parent,
                check=False,
            )
        except FileNotFoundError as exc:
            error = CheckpointError("git is not installed; checkpoints need it")
            error.hint = "install git, or turn checkpoints off"
            raise error from exc

    def ensure_init(self) -> None:
        """Create the repository, configured, in one rename (never half-made)."""
        if (self.git_dir / "HEAD").exists():
            return
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        temp = self.git_dir.with_name(f"{self.git_dir.name}.new")
        if temp.exists():
            shutil.rmtree(temp)  # left by a process that died here
        self.run("init", "--bare", "-q", "--object-format=sha1", str(temp), git_dir=temp)
        for key, value in _CONFIG.items():
            self.run("config", key, value, git_dir=temp)
        (temp / "info").mkdir(exist_ok=True)
        (temp / "info" / "attributes").write_bytes(_ATTRIBUTES)
        temp.rename(self.git_dir)

    # ---- snapshots ------------------------------------------------------------------

    def set_excludes(self, text: bytes) -> bool:
        """Write ``info/exclude``; whether it changed."""
        path = self.git_dir / "info" / "exclude"
        if path.exists() and path.read_bytes() == text:
            return False
        path.write_bytes(text)
        return True

    def snapshot(
        self, pathspec: bytes, *, rules_changed: bool, private: bytes | None = None
    ) -> tuple[str, str]:
        """Bring the private index up to the work tree, small ignored files included
        (``ignored.py``; ``private``: a folder left out, relative to the work tree);
        the tree id and git's warnings (files it could not read are left out of the
        snapshot, not fatal)."""
        # The caller holds the store's lock, so a leftover lock is from a killed git.
        Path(f"{self.index_file}.lock").unlink(missing_ok=True)
        # Our list says what the index holds; without the index it says nothing.
        previous = self._read_paths(self._ignored_list) if self.index_file.exists() else None
        skipped = self._read_paths(self._skipped_list) or set()
        wanted, skipped = self._wanted_ignored(pathspec, private, previous or set(), skipped)
        dropped = (previous or set()) - set(wanted)  # grew too big, or no longer ignored
        if dropped:
            self._remove(b"".join(p + b"\0" for p in sorted(dropped)))
        # With --ignore-errors, exit 1 means "some files could not be read".
        done = self.call("add", "-A", "--ignore-errors", "--", pathspec, tree=True)
        if done.returncode not in (0, 1):
            raise git_error(("add",), done.returncode, done.stderr)
        warnings = done.stderr.decode("utf-8", "replace").strip()
        # Ignored files already in the index are tracked there: `add -A` updated them.
        new = [p for p in wanted if p not in (previous or set())]
        if new:
            stdin = b"".join(p + b"\0" for p in new)
            added = self.call(
                "update-index", "--add", "--remove", "-z", "--stdin", stdin=stdin, tree=True
            )
            if added.returncode != 0:  # one unreadable file fails them all: none is new
                warnings += "\n" + added.stderr.decode("utf-8", "replace").strip()
                wanted = [p for p in wanted if p not in new]
        tree = self.run("write-tree").decode().strip()
        if rules_changed or previous is None or self._gitignore_changed(tree):
            # Files already in the index stay there when they become ignored: drop
            # those not wanted as ignored files.
            cached = self.run(
                "ls-files", "-z", "--cached", "--ignored", "--exclude-standard", "--", pathspec,
                tree=True,
            )  # fmt: skip
            keep = set(wanted)
            stale = [p for p in cached.split(b"\0") if p and p not in keep]
            if stale:
                self._remove(b"".join(p + b"\0" for p in stale))
                tree = self.run("write-tree").decode().strip()
        self._ignored_list.write_bytes(b"".join(p + b"\0" for p in wanted))
        self._skipped_list.write_bytes(b"".join(p + b"\0" for p in sorted(skipped)))
        self._last_tree.write_text(tree)
        return tree, warnings.strip()

    def _wanted_ignored(
        self, pathspec: bytes, private: bytes | None, kept: set[bytes], skipped: set[bytes]
    ) -> tuple[list[bytes], set[bytes]]:
        # Against an empty index, so that ignored files already snapshotted are listed
        # too, and a wholly ignored folder comes back as one entry. Only what the
        # repository's .gitignore files ignore (build output, .env): what the user's
        # own excludes hide (editor swap files, .DS_Store) stays out.
        listed = self.run(
            "ls-files", "-z", "--others", "--ignored", "--exclude-per-directory=.gitignore",
            "--directory", "--", pathspec, tree=True, env={"GIT_INDEX_FILE": str(self._no_index)},
        )  # fmt: skip
        return ignored.select(self.work_tree, listed, kept, skipped, private)

    @staticmethod
    def _read_paths(path: Path) -> set[bytes] | None:
        try:
            return {p for p in path.read_bytes().split(b"\0") if p}
        except OSError:
            return None

    def _remove(self, paths: bytes) -> None:
        self.run("update-index", "-z", "--force-remove", "--stdin", stdin=paths, tree=True)

    @property
    def _ignored_list(self) -> Path:
        return self.index_file.with_name("ignored-files")

    @property
    def _skipped_list(self) -> Path:
        return self.index_file.with_name("ignored-left-out")

    @property
    def _no_index(self) -> Path:
        return self.index_file.with_name("no-index")  # never created: an empty index

    @property
    def _last_tree(self) -> Path:
        return self.index_file.with_name("last-snapshot")

    def _gitignore_changed(self, tree: str) -> bool:
        """Whether a .gitignore differs from the last snapshot's (cheap: trees are
        compared by id, so only changed folders are read)."""
        try:
            last = self._last_tree.read_text().strip()
        except OSError:
            return True
        if last == tree:
            return False
        done = self.call("diff-tree", "-r", "-z", "--name-only", "--no-renames", last, tree)
        if done.returncode != 0:
            return True  # the last tree was pruned
        return any(p.rsplit(b"/", 1)[-1] == b".gitignore" for p in done.stdout.split(b"\0"))

    def ignored_by(self, rel: bytes) -> bytes | None:
        """The file whose rule ignores ``rel`` (the index aside), or None."""
        # check-ignore takes paths, not pathspecs, and refuses the literal magic.
        literal_off = {"GIT_LITERAL_PATHSPECS": "0"}
        done = self.call(
            "check-ignore", "-v", "-z", "--stdin", "--no-index",
            stdin=rel + b"\0", tree=True, env=literal_off,
        )  # fmt: skip
        if done.returncode not in (0, 1):
            raise git_error(("check-ignore",), done.returncode, done.stderr)
        return done.stdout.split(b"\0", 1)[0] if done.returncode == 0 else None

    def commit(self, tree: str, message: str, when: float) -> str:
        date = f"@{int(when)} +0000"
        out = self.run(
            "commit-tree",
            tree,
            stdin=message.encode(),
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        return out.decode().strip()

    def write_blob(self, data: bytes) -> str:
        return self.run("hash-object", "-w", "--no-filters", "--stdin", stdin=data).decode().strip()

    def write_file_blob(self, path: bytes) -> str:
        return self.run("hash-object", "-w", "--no-filters", "--", path).decode().strip()

    def make_tree(self, entries: Iterable[tuple[int, str, str, bytes]]) -> str:
        """``git mktree`` from (mode, type, id, name) rows."""
        rows = b"".join(
            f"{mode:06o} {kind} {sha}\t".encode() + name + b"\0"
            for mode, kind, sha, name in entries
        )
        return self.run("mktree", "-z", stdin=rows).decode().strip()

    # ---- refs -----------------------------------------------------------------------

    def refs(self, prefix: str = "refs/mnemo/") -> list[RefInfo]:
        if not (self.git_dir / "HEAD").exists():
            return []
        out = self.run(
            "for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents:subject)", prefix
        )
        refs = []
        for line in out.decode("utf-8", "replace").splitlines():
            name, sha, subject = line.split("\0", 2)
            refs.append(RefInfo(name, sha, subject))
        return refs

    def update_refs(self, updates: Mapping[str, str | None], *, create_only: bool = False) -> None:
        """Set (id) or delete (None) refs in one atomic transaction."""
        if not updates:
            return
        cmds = []
        for name, sha in updates.items():
            if sha is None:
                cmds.append(f"delete {name}\0\0")
            elif create_only:
                cmds.append(f"create {name}\0{sha}\0")
            else:
                cmds.append(f"update {name}\0{sha}\0\0")
        self.run("update-ref", "-z", "--stdin", stdin="".join(cmds).encode())

    # ---- reading trees and blobs ----------------------------------------------------

    def diff(self, old: str, new: str) -> list[TreeChange]:
        out = self.run("diff-tree", "-r", "-z", "--no-renames", "--no-ext-diff", old, new)
        return [
            TreeChange(path, a, b)
            for path, a, b in _parse_raw(out)
            if (a is None or a.mode != MODE_GITLINK) and (b is None or b.mode != MODE_GITLINK)
        ]

    def ls_tree(self, tree: str, paths: Sequence[bytes] = ()) -> dict[bytes, Entry]:
        """Blobs of a tree (all of them, or those at ``paths``); submodules left out."""
        args: list[Arg] = ["ls-tree", "-r", "-z", "--full-tree", tree]
        if paths:
            args += ["--", *paths]
        out = self.run(*args)
        entries: dict[bytes, Entry] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, kind, sha = meta.split()
            if kind == b"blob":
                entries[path] = Entry(int(mode, 8), sha.decode())
        return entries

    def log_path(self, commits: Sequence[str], rel: bytes) -> dict[str, Entry]:
        """For each commit whose tree holds ``rel``: its entry there (one git call)."""
        if not commits:
            return {}
        out = self.run(
            "log", "--no-walk=unsorted", "--stdin", "--format=%H", "--raw", "-z", "--no-abbrev",
            "--no-renames", "--", rel, stdin="".join(f"{c}\n" for c in commits).encode(),
        )  # fmt: skip
        found: dict[str, Entry] = {}
        current = ""
        tokens = iter(out.split(b"\0"))
        for token in tokens:
            text = token.strip()
            if text.startswith(b":"):
                path = next(tokens, b"")
                _, new_mode, _, new_sha, _ = text[1:].split()
                if path == rel and current:
                    found[current] = Entry(int(new_mode, 8), new_sha.decode())
            elif len(text) == 40:
                current = text.decode()
        return found

    def sizes(self, shas: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(shas))
        if not wanted:
            return {}
        out = self.run(
            "cat-file", "--batch-check", stdin="".join(f"{s}\n" for s in wanted).encode()
        )
        sizes = {}
        for line in out.decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob":
                sizes[parts[0]] = int(parts[2])
        return sizes

    def read(self, spec: str) -> bytes:
        return self.run("cat-file", "blob", spec)

    @contextmanager
    def blob_reader(self) -> Iterator[BlobReader]:
        with subprocess.Popen(
            ["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env,
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                yield BlobReader(proc.stdin, proc.stdout)
            finally:
                proc.stdin.close()

    def disk_usage(self, shas: Sequence[str]) -> int:
        """Bytes on disk of every object the commits reach (``rev-list --disk-usage``,
        spelt out so that it works before git 2.38)."""
        if not shas:
            return 0
        listed = self.run(
            "rev-list", "--objects", "--stdin", stdin="".join(f"{s}\n" for s in shas).encode()
        )
        ids = b"".join(line[:40] + b"\n" for line in listed.splitlines() if line)
        sizes = self.run("cat-file", "--batch-check=%(objectsize:disk)", stdin=ids)
        return sum(int(n) for n in sizes.split())

    def loose_objects(self) -> int:
        for line in self.run("count-objects", "-v").decode().splitlines():
            key, _, value = line.partition(":")
            if key == "count":
                return int(value)
        return 0

    def gc(self) -> None:
        self.run("gc", "--quiet", "--prune=now")


class BlobReader:
    """Reads blobs one at a time from a running ``git cat-file --batch``."""

    def __init__(self, requests: IO[bytes], replies: IO[bytes]) -> None:
        self._requests, self._replies = requests, replies

    def read(self, sha: str) -> bytes:
        self._requests.write(f"{sha}\n".encode())
        self._requests.flush()
        header = self._replies.readline().split()
        if len(header) != 3:
            raise CheckpointError(f"saved content {sha} is missing from the checkpoint store")
        size = int(header[2])
        data = self._replies.read(size)
        self._replies.read(1)  # the newline after the content
        return data


def git_error(args: Sequence[Arg], code: int, stderr: bytes) -> CheckpointError:
    name = args[0] if args else "git"
    command = name.decode() if isinstance(name, bytes) else name
    message = stderr.decode("utf-8", "replace").strip() or "(no message)"
    return CheckpointError(f"git {command} failed (exit {code}): {message}")


def _parse_raw(out: bytes) -> Iterator[tuple[bytes, Entry | None, Entry | None]]:
    tokens = iter(out.split(b"\0"))
    for token in tokens:
        if not token.startswith(b":"):
            continue
        path = next(tokens)
        old_mode, new_mode, old_sha, new_sha, _status = token[1:].split()
        old = Entry(int(old_mode, 8), old_sha.decode()) if old_sha.strip(b"0") else None
        new = Entry(int(new_mode, 8), new_sha.decode()) if new_sha.strip(b"0") else None
        yield path, old, new
