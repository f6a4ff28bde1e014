"""What a confined command may see and change: the plan a sandbox backend mounts.

The sandbox is the guarantee; this module says what it guarantees:

- the root file system read-only; writable only the work directory (plus the
  configured extra paths) and a private ``/tmp``;
- inside the writable places, read-only: the paths that make git or mnemo run
  code later (``.git/hooks``, ``.git/config``, ``.git/commondir``, ``.git/info``,
  gitdir pointer files and the config and hooks of embedded repositories), mnemo's
  project config and memory, ``.envrc``, ``.mcp.json``, ``.claude/``, ``.codex/``,
  and the shell start-up files of a home directory that happens to be writable;
- invisible (an empty directory or an empty file mounted over them): the user's
  credential stores, mnemo's own home, and the sockets of services that would act
  for the command outside (docker, the session bus, agents under ``/run/user``);
- an environment without secret-named variables (API keys never reach a child).

Protected paths that do not exist yet cannot be mounted over without creating
them; ``planted`` lists those a command created, so the sandbox removes them
afterwards and says so (a tripwire, not a mount).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.safety.paths import WORKDIR_PROTECTED
from mnemocode.safety.secrets import is_secret_name

# Relative to the user's home: start-up files, protected when the home (or a part
# of it) is writable, e.g. a work directory that is the home itself.
HOME_PROTECTED: tuple[str, ...] = (
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".config/fish",
    ".config/autostart",
    ".config/systemd",
    ".gitconfig",
    ".config/git",
)
# Relative to the user's home: credential stores, invisible inside the sandbox.
HIDDEN_HOME: tuple[str, ...] = (
    ".ssh",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".config/gh",
    ".config/hub",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".docker",
    ".kube",
    ".gnupg",
    ".pypirc",
    ".pip/pip.conf",
    ".config/pip/pip.conf",
    ".npmrc",
    ".yarnrc.yml",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".gem/credentials",
    ".password-store",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".config/rclone",
    ".s3cfg",
    ".boto",
    ".my.cnf",
    ".pgpass",
    ".local/share/keyrings",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".node_repl_history",
    ".lesshst",
    ".local/share/fish/fish_history",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
)
# Sockets of services that would act for the command outside the sandbox (the
# docker socket is root on the host; the user's session bus, agents and keyrings
# live under /run/user): hidden like the credential stores.
HIDDEN_SYSTEM: tuple[str, ...] = (
    "/run/user",
    "/run/dbus",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd",
    "/run/podman",
    "/run/libvirt",
    "/run/snapd.socket",
)
# Embedded repositories are looked for this deep below a writable root, skipping
# folders that only hold dependencies or build output.
_SCAN_DEPTH = 3
_RACY_NS = 50_000_000  # coarse file system clocks tick every few milliseconds
_SCAN_SKIP = frozenset(
    {"node_modules", ".venv", "venv", "__pycache__", "target", "dist", "build", ".tox"}
)
# Variables a child process keeps even though their names look secret.
_ALWAYS_PASS = frozenset({"SSH_AUTH_SOCK"})


@dataclass(frozen=True, slots=True)
class Scan:
    """What a scan for embedded repositories found, and the folders it looked into
    with their mtimes: checking those (a stat each) tells whether a rescan could find
    anything new, at a fraction of the scan's cost."""

    found: tuple[Path, ...]
    folders: tuple[tuple[str, int], ...]
    taken_ns: int

    def unchanged(self) -> bool:
        # A folder changed within the file system's timestamp granularity of the
        # scan may change again with the same mtime ("racy git"): rescan it.
        racy = self.taken_ns - _RACY_NS
        return all(_mtime(folder) == mtime < racy for folder, mtime in self.folders)


@dataclass(frozen=True, slots=True)
class Confinement:
    """The mount plan of one session. ``hidden``/``protected`` entries are
    relative names; ``mounts`` turns them into what exists on disk now."""

    workdir: Path
    home: Path
    mnemo_home: Path
    writable: tuple[Path, ...] = ()
    hidden: tuple[str, ...] = HIDDEN_HOME
    protected: tuple[str, ...] = WORKDIR_PROTECTED
    system_hidden: tuple[str, ...] = HIDDEN_SYSTEM
    # Environment variables passed through although their names look secret.
    env_passthrough: frozenset[str] = field(default_factory=frozenset)

    @property
    def roots(self) -> tuple[Path, ...]:
        """Every writable place (the work directory first), resolved."""
        found = [Path(os.path.realpath(self.workdir))]
        found += [Path(os.path.realpath(p)) for p in self.writable]
        return tuple(dict.fromkeys(found))

    def allows_cwd(self, cwd: Path) -> bool:
        real = os.path.realpath(cwd)
        return any(real == str(r) or real.startswith(str(r) + os.sep) for r in self.roots)

    def scan(self) -> Scan:
        """The embedded repositories below the writable roots, as the disk is now."""
        folders: list[tuple[str, int]] = []
        found = [path for root in self.roots for path in _embedded_git(root, folders)]
        home = os.path.abspath(self.home)
        if any(_under(Path(home), root) for root in self.roots):
            with_home = _mtime(home)
            if with_home is not None:
                folders.append((home, with_home))
        return Scan(tuple(found), tuple(folders), time.time_ns())

    def read_only(self, scan: Scan | None = None) -> Iterator[Path]:
        """Existing paths inside the writable roots to mount read-only."""
        home = Path(os.path.abspath(self.home))
        found = (scan or self.scan()).found
        for root in self.roots:
            for name in self.protected:
                path = root / name
                if os.path.lexists(path):
                    yield path
            yield from (path for path in found if _under(path, root))
            for name in HOME_PROTECTED:
                path = home / name
                if _under(path, root) and os.path.lexists(path):
                    yield path

    def pinned(self, scan: Scan | None = None) -> Iterator[Path]:
        """Git directories to mount onto themselves: a mount point cannot be renamed
        or removed, so a command cannot swap in a ``.git`` of its own making (its
        objects and refs stay writable: git commands work)."""
        found = (scan or self.scan()).found
        for root in self.roots:
            if os.path.isdir(root / ".git") and not os.path.islink(root / ".git"):
                yield root / ".git"
        for path in found:
            if path.parent.name == ".git" or path.name == "config":
                yield path.parent

    def absent_protected(self) -> list[Path]:
        """Protected names that do not exist yet (watched by the tripwire): also a
        root ``.git`` where there is none (a pointer file would redirect git)."""
        missing = [root / ".git" for root in self.roots if not os.path.lexists(root / ".git")]
        for root in self.roots:
            for name in self.protected:
                path = root / name
                if not os.path.lexists(path) and os.path.isdir(path.parent):
                    missing.append(path)
        return missing

    def hidden_paths(self) -> Iterator[Path]:
        """Existing credential stores and mnemo's home, to mount empty over."""
        home = Path(os.path.abspath(self.home))
        for name in self.hidden:
            path = home / name
            if os.path.lexists(path):
                yield path
        for name in self.system_hidden:
            if os.path.lexists(name):
                yield Path(name)
        mnemo = Path(os.path.abspath(self.mnemo_home))
        if os.path.isdir(mnemo) and not any(_under(root, mnemo) for root in self.roots):
            yield mnemo

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        return scrub_environment(env, keep=self.env_passthrough)


def scrub_environment(
    env: Mapping[str, str], *, keep: frozenset[str] = frozenset()
) -> dict[str, str]:
    """``env`` without the variables whose names look like they hold a secret."""
    return {
        name: value
        for name, value in env.items()
        if name in keep or name in _ALWAYS_PASS or not is_secret_name(name)
    }


def remove_planted(paths: Sequence[Path]) -> list[Path]:
    """Remove the protected paths in ``paths`` that exist now; the ones removed."""
    removed = []
    for path in paths:
        if not os.path.lexists(path):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _under(path: Path, root: Path) -> bool:
    text, prefix = str(path), str(root)
    return text == prefix or text.startswith(prefix.rstrip(os.sep) + os.sep)


_GIT_DIR_PARTS = ("config", "hooks", "info", "commondir")


def _embedded_git(root: Path, folders: list[tuple[str, int]]) -> Iterator[Path]:
    """Gitdir pointer files and the config and hooks of repositories below ``root``
    (not its own ``.git``, which ``WORKDIR_PROTECTED`` covers). Every folder looked
    into goes to ``folders`` with its mtime: a new entry anywhere changes one."""
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        mtime = _mtime(str(folder))
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        if mtime is not None:
            folders.append((str(folder), mtime))
        names = {e.name for e in entries}
        if folder != root and {"HEAD", "config", "objects"} <= names:
            # A bare or embedded git directory (vendor/lib.git): its config runs code.
            yield from (folder / name for name in _GIT_DIR_PARTS if name in names)
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name == ".git" and folder != root:
                if entry.is_dir(follow_symlinks=False):
                    yield from (path / n for n in _GIT_DIR_PARTS if os.path.lexists(path / n))
                else:
                    yield path  # a gitdir pointer file
            elif depth < _SCAN_DEPTH and _descend(entry):
                stack.append((path, depth + 1))


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path, follow_symlinks=False).st_mtime_ns
    except OSError:
        return None


def _descend(entry: os.DirEntry[str]) -> bool:
    return (
        entry.name != ".git"
        and entry.name not in _SCAN_SKIP
        and entry.is_dir(follow_symlinks=False)
    )
