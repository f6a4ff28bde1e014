"""Where the shadow work tree starts and which ignore rules apply.

The snapshot honours exactly what ``git status`` hides in the user's repository:
every ``.gitignore`` (including those above the work directory when it is a
sub-directory of a repository), the repository's ``info/exclude`` and the user's
global excludes file. So when the work directory is inside a git repository the
shadow work tree is that repository's top level and snapshots are limited to the
work directory by a pathspec; otherwise — or when the repository ignores the
work directory itself — it is the work directory.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mnemocode.safety.checkpoints.model import CheckpointError

_GLOB_CHARS = b"*?[\\"


@dataclass(frozen=True, slots=True)
class Layout:
    root: Path  # the shadow repository's work tree
    workdir: Path
    exclude_files: tuple[Path, ...]  # the user's info/exclude and global excludes
    private: Path  # the store's own directory (excluded when inside the work tree)

    @property
    def prefix(self) -> bytes:
        """The work directory relative to ``root`` (b"" when they are the same)."""
        rel = os.fsencode(self.workdir.relative_to(self.root))
        return b"" if rel == b"." else rel

    @property
    def pathspec(self) -> bytes:
        return self.prefix or b"."

    def rel(self, path: Path) -> bytes:
        return os.fsencode(path.relative_to(self.root))

    def excludes(self) -> bytes:
        """The text of the shadow repository's ``info/exclude``."""
        parts = [b"# written by mnemo: the user's info/exclude and global excludes\n"]
        for file in self.exclude_files:
            try:
                parts.append(file.read_bytes().rstrip(b"\n") + b"\n")
            except OSError:
                continue
        if self.private.is_relative_to(self.root):
            parts.append(b"/" + _escape(os.fsencode(self.private.relative_to(self.root))) + b"/\n")
        return b"".join(parts)


def detect(workdir: Path, private: Path, env: dict[str, str]) -> Layout:
    """Ask the user's git (read-only: ``rev-parse``, ``check-ignore``, ``config``)."""
    env = {**env, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    root, files = workdir, []
    top = _git(["rev-parse", "--show-toplevel", "--git-path", "info/exclude"], workdir, env)
    lines = top.split(b"\n") if top is not None else []
    # A work directory the repository ignores (a scratch folder, a home directory
    # tracked with "*") would snapshot nothing: it gets its own rules instead.
    if len(lines) >= 2 and lines[0] and _git(["check-ignore", "-q", "."], workdir, env) is None:
        root = Path(os.fsdecode(lines[0])).resolve()
        files.append(workdir / os.fsdecode(lines[1]))
    configured = _git(["config", "--path", "--get", "core.excludesFile"], workdir, env)
    if configured:
        files.append(Path(os.fsdecode(configured)).expanduser())
    else:
        xdg = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", "~"), ".config")
        files.append(Path(xdg, "git", "ignore").expanduser())
    if not workdir.is_relative_to(root):
        root = workdir
    return Layout(root, workdir, tuple(files), private.resolve())


def _git(args: list[str], cwd: Path, env: dict[str, str]) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=False)
    except FileNotFoundError as exc:
        error = CheckpointError("git is not installed; checkpoints need it")
        error.hint = "install git, or turn checkpoints off"
        raise error from exc
    except OSError as exc:
        raise CheckpointError(f"cannot run git in {cwd}: {exc}") from exc
    return done.stdout.rstrip(b"\n") if done.returncode == 0 else None


def _escape(path: bytes) -> bytes:
    out = bytearray()
    for byte in path:
        if byte in _GLOB_CHARS:
            out += b"\\"
        out.append(byte)
    if bytes(out[:1]) in (b"!", b"#"):
        out[0:0] = b"\\"
    return bytes(out)
