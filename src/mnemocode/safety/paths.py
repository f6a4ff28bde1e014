"""Path zones, protected paths and secret files: what a file access may do.

``PathPolicy.check`` answers allow / ask for one access and never depends on the
permission mode; the policy maps "ask" to "refuse" in auto mode and keeps asking
for protected paths in bypass mode.

Zones (of the *resolved* target, symlinks followed):

============  =======  ==========================================================
zone          read     write
============  =======  ==========================================================
workdir       allow    allow
allowed       allow    allow (extra allowed paths from the configuration)
outside       allow    ask
protected     allow    ask — in every mode, bypass included
secret        ask      ask (a write can clobber a credential; an edit reads it)
============  =======  ==========================================================

Protected (the agent never writes them without an explicit prompt):

- mnemo's home (``~/.mnemo`` or ``$MNEMO_HOME``): config, rules, custom tools,
  memory, checkpoints and this audit log.
- Shell and session start-up files (``~/.bashrc``, ``~/.profile``, ``~/.zshrc``,
  ``~/.config/fish/``, ``~/.inputrc``, …) and ``~/.config/autostart``,
  ``~/.config/systemd/user``: they run code in every future shell or session.
- ``~/.ssh`` and ``~/.gnupg``; ``~/.gitconfig`` and ``~/.config/git/config``.
- In any repository: everything under ``.git/hooks`` and the git config files
  (``.git/config``, ``.git/modules/*/config``, ``config.worktree``). The config
  is as dangerous as a hook: ``core.hooksPath``, ``core.fsmonitor``,
  ``core.pager``, ``core.sshCommand``, aliases and ``filter.*.clean`` all make the
  user's next ``git status`` run a command of the agent's choosing.
- Project configuration of mnemo: any ``.mnemo/`` folder, ``mnemo.toml``, and
  ``.mcp.json`` (it names the MCP server commands mnemo starts).

Secrets (reading asks):

- ``.env`` and ``.env.*``/``.env-*``/``.env_*``/``.envrc``, except templates meant
  to be committed: names ending in ``example``, ``sample``, ``template``,
  ``dist`` or ``tpl`` (``.env.example`` reads freely).
- Keys: ``*.pem``, ``*.key``, ``*.p12``, ``*.pfx``, ``*.jks``, ``*.keystore``,
  ``*.ppk``, ``*.kdbx``; SSH private keys ``id_*`` without an extension
  (``id_rsa``, ``id_ed25519``; ``id_rsa.pub`` and ``id_utils.py`` read freely).
- Credential files by name anywhere: ``.netrc``, ``_netrc``, ``.pgpass``,
  ``.git-credentials``, ``.pypirc``.
- Under the home directory: ``~/.ssh`` (but ``*.pub``), ``~/.gnupg``, ``~/.aws``,
  ``~/.azure``, ``~/.config/gcloud``, ``~/.kube``, ``~/.docker/config.json``,
  ``~/.npmrc``, ``~/.yarnrc.yml``, ``~/.config/gh``, ``~/.config/hub``,
  ``~/.git-credentials``, ``~/.config/git/credentials``, ``~/.password-store``,
  ``~/.vault-token``, ``~/.terraform.d/credentials.tfrc.json``,
  ``~/.cargo/credentials(.toml)``, ``~/.gem/credentials``, ``~/.config/rclone``,
  ``~/.s3cfg``, ``~/.boto``, ``~/.my.cnf``, ``~/.local/share/keyrings`` and browser
  profiles (cookies, saved passwords).
- ``/proc/<pid>/environ``: the environment of a process holds its API keys.

Both the path as written (normalised) and the resolved target are matched, so a
link named ``notes.txt`` pointing at ``~/.aws/credentials`` is a secret, and a
write through ``hooks -> .git/hooks`` is protected.

Symlink races: ``check`` resolves symlinks (a path that does not exist yet is
resolved through its deepest existing parent) and ``recheck`` resolves again right
before the write; if the target moved in between, the new verdict is at least
"ask". A write to a file with more than one hard link asks too: the other name may
be outside the work directory. What remains is the short window between
``recheck`` and the ``open``/``rename`` of the write itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from mnemocode.safety.secret_paths import (
    SECRET_HOME_PATHS,
    SecretPaths,
    is_under,
    proc_secret,
    within,
)

Action = Literal["allow", "ask", "deny"]
__all__ = ["SECRET_HOME_PATHS", "WORKDIR_PROTECTED", "PathPolicy", "PathVerdict"]

Zone = Literal["workdir", "allowed", "outside", "protected", "secret"]

# Relative to the home directory: (path, why it is protected).
_PROTECTED_HOME: tuple[tuple[str, str], ...] = (
    *(
        (name, "a shell start-up file")
        for name in (
            ".bashrc",
            ".bash_profile",
            ".bash_login",
            ".bash_logout",
            ".bash_aliases",
            ".profile",
            ".zshrc",
            ".zshenv",
            ".zprofile",
            ".zlogin",
            ".zlogout",
            ".cshrc",
            ".tcshrc",
            ".login",
            ".kshrc",
            ".mkshrc",
            ".inputrc",
            ".config/fish",
            ".config/nushell",
            ".config/environment.d",
            ".pam_environment",
        )
    ),
    *(
        (name, "a session start-up file")
        for name in (".xprofile", ".xsessionrc", ".xinitrc", ".config/autostart")
    ),
    (".config/systemd/user", "user services start on their own"),
    (".ssh", "SSH keys and settings"),
    (".gnupg", "GnuPG keys and settings"),
    (".gitconfig", "git configuration can make git run any command"),
    (".config/git/config", "git configuration can make git run any command"),
)

# Relative to the work directory: paths the agent never writes without asking (the
# sandbox mounts them read-only). Each one makes git or mnemo run or obey something.
WORKDIR_PROTECTED: tuple[str, ...] = (
    ".git/hooks",
    ".git/config",
    ".git/config.worktree",
    ".git/commondir",
    ".git/info",
    "mnemo.toml",
    ".mnemo",
    ".envrc",
    ".mcp.json",
    ".claude",
    ".codex",
    ".agents",
)

_GIT_CONFIG_NAMES = frozenset({"config", "config.worktree", "commondir", "gitdir"})
# Directories whose whole content is project configuration for an agent.
_AGENT_DIRS = frozenset({".mnemo", ".claude", ".codex", ".agents"})


@dataclass(frozen=True, slots=True)
class PathVerdict:
    action: Action
    reason: str
    rule: str
    resolved: Path  # the real target: write here, not to the path as written
    zone: Zone
    # The absolute path as asked (not normalised: ``link/..`` must follow the link)
    # and the kind of access, so ``recheck`` can resolve it again.
    requested: Path | None = None
    write: bool = False


def _git_protected(parts: Sequence[str]) -> bool:
    """Hooks, config, ``commondir``/``gitdir`` pointers and ``info/`` in any git dir,
    and any path named ``.git`` (a file there is a gitdir pointer)."""
    if parts and parts[-1] == ".git":
        return True
    for index, part in enumerate(parts):
        if part == ".git":
            rest = parts[index + 1 :]
            if "hooks" in rest or (rest and rest[-1] in _GIT_CONFIG_NAMES):
                return True
            if "info" in rest:
                return True
    return False


def _both(path: Path) -> set[Path]:
    """The absolute form and the resolved form of a configured root."""
    absolute = Path(os.path.abspath(path))
    return {absolute, Path(os.path.realpath(absolute))}


class PathPolicy:
    def __init__(
        self,
        *,
        workdir: Path,
        home: Path,
        mnemo_home: Path,
        extra_allowed: Sequence[Path] = (),
    ) -> None:
        self.workdir = Path(os.path.realpath(workdir))
        self.home = Path(os.path.abspath(home))
        self.mnemo_home = Path(os.path.abspath(mnemo_home))
        self.extra_allowed = tuple(Path(os.path.realpath(p.expanduser())) for p in extra_allowed)
        homes = _both(home)
        self._protected_roots: list[tuple[Path, str]] = [
            (root, "mnemo's own configuration, rules and state") for root in _both(mnemo_home)
        ]
        self._protected_roots += [
            (home_dir / rel, why) for home_dir in homes for rel, why in _PROTECTED_HOME
        ]
        self._secrets = SecretPaths(homes)

    # ---- classification ------------------------------------------------------------

    def protected_reason(self, path: Path) -> str | None:
        """Why writing ``path`` (absolute, normalised) needs an explicit prompt, if it does."""
        for root, why in self._protected_roots:
            if within(path, root):
                return why
        parts = path.parts
        if _git_protected(parts):
            return "git hooks and git configuration make git run commands"
        if _AGENT_DIRS.intersection(parts) or path.name == "mnemo.toml":
            return "an agent's project configuration or memory"
        if path.name == ".mcp.json":
            return "it names the MCP server commands mnemo starts"
        if path.name == ".envrc":
            return "direnv runs it on entering the folder"
        return None

    def is_secret(self, path: Path) -> bool:
        """Whether ``path`` (absolute, normalised) looks like it holds credentials."""
        return self._secrets.is_secret(path)

    def contains_secrets(self, path: Path) -> bool:
        """Whether ``path`` (absolute, normalised) is a folder above a credential store."""
        return self._secrets.contains_secrets(path)

    def _location(self, resolved: Path) -> Zone:
        if within(resolved, self.workdir):
            return "workdir"
        if is_under(resolved, self.extra_allowed):
            return "allowed"
        return "outside"

    # ---- the checks ----------------------------------------------------------------

    def _absolute(self, path: str | Path, cwd: Path | None) -> Path:
        text = os.fspath(path)
        if text == "~" or text.startswith("~/"):
            text = os.path.join(self.home, text[2:])
        else:
            text = os.path.expanduser(text)
        base = self.workdir if cwd is None else self.workdir / cwd
        return Path(os.path.join(base, text))

    def check(self, path: str | Path, *, write: bool, cwd: Path | None = None) -> PathVerdict:
        """The verdict for reading or writing ``path`` (relative to ``cwd``, which
        is itself relative to the work directory, the default)."""
        try:
            requested = self._absolute(path, cwd)
            resolved = Path(os.path.realpath(requested))
        except (ValueError, OSError) as exc:  # a NUL byte, an unreadable cwd
            reason = f"not a usable path: {exc}"
            return PathVerdict(
                "deny", reason, "path:invalid", Path(str(path)), "outside", None, write
            )
        normal = Path(os.path.normpath(requested))
        # `/proc/self/cwd/..` is secret as written; normalising drops the `cwd`.
        verdict = self._decide(normal, resolved, write, proc_secret(requested.parts))
        return replace(verdict, requested=requested, write=write)

    def _decide(self, normal: Path, resolved: Path, write: bool, proc: bool) -> PathVerdict:
        protected = self.protected_reason(normal) or self.protected_reason(resolved)
        secret = proc or self.is_secret(normal) or self.is_secret(resolved)
        zone = self._location(resolved)
        shown = str(resolved)
        if not write:
            if secret:
                return PathVerdict(
                    "ask", f"{shown} may hold credentials", "path:secret-read", resolved, "secret"
                )
            if self.contains_secrets(normal) or self.contains_secrets(resolved):
                reason = f"searching {shown} reaches credential files"
                return PathVerdict("ask", reason, "path:secret-tree", resolved, "secret")
            if protected:
                reason = f"reading {shown} is fine (writing it asks)"
                return PathVerdict("allow", reason, "path:protected-read", resolved, "protected")
            reason = f"a read in the {zone} zone"
            return PathVerdict("allow", reason, f"path:read-{zone}", resolved, zone)
        if protected:
            reason = f"{shown} is protected ({protected}); it is never written without asking"
            return PathVerdict("ask", reason, "path:protected", resolved, "protected")
        if secret:
            return PathVerdict(
                "ask", f"{shown} may hold credentials", "path:secret-write", resolved, "secret"
            )
        if _has_other_links(resolved):
            reason = f"{shown} has other hard links, which may be outside the work directory"
            return PathVerdict("ask", reason, "path:hardlink", resolved, "outside")
        if zone == "outside":
            reason = f"{shown} is outside the work directory"
            return PathVerdict("ask", reason, "path:write-outside", resolved, zone)
        reason = f"a write in the {zone} zone"
        return PathVerdict("allow", reason, f"path:write-{zone}", resolved, zone)

    def recheck(self, verdict: PathVerdict) -> PathVerdict:
        """Resolve again right before the write. If the target changed since
        ``check`` (a symlink created or redirected in between), the answer for the
        new target is returned and it is never "allow": what was approved was
        another file."""
        target = verdict.requested if verdict.requested is not None else verdict.resolved
        fresh = self.check(target, write=verdict.write)
        if fresh.resolved == verdict.resolved:
            return fresh
        reason = (
            f"the target changed after it was checked: {target} now leads to "
            f"{fresh.resolved}, not {verdict.resolved}; {fresh.reason}"
        )
        action: Action = "deny" if fresh.action == "deny" else "ask"
        return replace(fresh, action=action, reason=reason, rule="path:target-changed")


def _has_other_links(path: Path) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_nlink > 1
