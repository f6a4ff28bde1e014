"""Which paths hold credentials: the secret test shared by the path policy (file
tools) and the shell analysis, which also asks whether a glob could reach one.

Lexical: paths are absolute and normalised; the path policy also tests the
resolved target. ``SECRET_HOME_PATHS`` is exported for the sandbox, which hides
those paths.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

# Relative to the home directory: credential stores (reading asks). Exported for the
# sandbox, which mounts them empty.
SECRET_HOME_PATHS: tuple[str, ...] = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".npmrc",
    ".yarnrc.yml",
    ".config/gh",
    ".config/hub",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".gitconfig",
    ".config/git/config",
    ".pypirc",
    ".pip/pip.conf",
    ".config/pip/pip.conf",
    ".password-store",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".gem/credentials",
    ".config/rclone",
    ".s3cfg",
    ".boto",
    ".my.cnf",
    ".local/share/keyrings",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    # Shell and REPL histories: commands typed with tokens in them.
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".lesshst",
    ".node_repl_history",
    ".local/share/fish/fish_history",
)

_SECRET_NAMES = frozenset({".netrc", "_netrc", ".pgpass", ".git-credentials", ".pypirc"})
_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".kdbx")
_TEMPLATE_ENDINGS = ("example", "sample", "template", "dist", "tpl")
_PROC_INDIRECTION = frozenset({"root", "cwd", "environ"})

# One name of each kind the secret test matches by name, to test glob patterns.
_SAMPLE_NAMES = (
    ".env",
    ".env.local",
    ".envrc",
    "id_rsa",
    "id_ed25519",
    *(f"a{suffix}" for suffix in _SECRET_SUFFIXES),
    *_SECRET_NAMES,
    "environ",
)


def _is_env_file(name: str) -> bool:
    if name == ".envrc":
        return True
    if name != ".env" and not name.startswith((".env.", ".env-", ".env_")):
        return False
    return not name.lower().endswith(_TEMPLATE_ENDINGS)


def _is_key_file(name: str) -> bool:
    if name.lower().endswith(_SECRET_SUFFIXES):
        return True
    return name.startswith("id_") and "." not in name


def within(path: Path, root: Path) -> bool:
    """``path.is_relative_to(root)`` for absolute, normalised paths, on strings:
    3.11's is_relative_to builds paths and raises inside, ~20x slower, and every
    file tool call checks some twenty roots."""
    text, prefix = str(path), str(root)
    return text == prefix or text.startswith(prefix if prefix.endswith(os.sep) else prefix + os.sep)


def is_under(path: Path, roots: Iterable[Path]) -> bool:
    return any(within(path, root) for root in roots)


def proc_secret(parts: Sequence[str]) -> bool:
    """``/proc/<pid>/environ`` (a process's API keys) and ``/proc/<pid>/root|cwd``
    (another view of the whole file system), ``task/<tid>/`` included."""
    if len(parts) < 4 or parts[1] != "proc":
        return False
    rest = list(parts[3:])
    if rest[:1] == ["task"]:
        rest = rest[2:]
    return bool(rest) and rest[0] in _PROC_INDIRECTION


def glob_matches(pattern: str, name: str) -> bool:
    """One path component against one glob component, as bash matches it, except
    that ``*`` also matches a leading dot (``shopt -s dotglob`` may be on)."""
    if pattern == "**":
        return True
    return fnmatch.fnmatchcase(name, re.sub(r"\[\^", "[!", pattern))


def has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


@functools.lru_cache(maxsize=16)
def secrets_of(home: Path) -> SecretPaths:
    """The (immutable) secret test for one home, made once."""
    return SecretPaths([home])


class SecretPaths:
    """The secret test for a user whose home is one of ``homes``."""

    def __init__(self, homes: Iterable[Path]) -> None:
        self.roots = tuple(home / rel for home in homes for rel in SECRET_HOME_PATHS)
        self._root_texts = frozenset(str(root) for root in self.roots)

    def _under_a_root(self, path: Path) -> bool:
        """``is_under(path, self.roots)`` by looking up ``path`` and each of its
        parents: a few set lookups instead of one test per credential store."""
        text = str(path)
        if text in self._root_texts:
            return True
        cut = text.find(os.sep, 1)
        while cut != -1:
            if text[:cut] in self._root_texts:
                return True
            cut = text.find(os.sep, cut + 1)
        return False

    def is_secret(self, path: Path) -> bool:
        """Whether ``path`` (absolute, normalised) looks like it holds credentials."""
        name = path.name
        if _is_env_file(name) or name in _SECRET_NAMES:
            return True
        if _is_key_file(name) and not name.endswith(".pub"):
            return True
        if proc_secret(path.parts):
            return True
        return self._under_a_root(path) and not name.endswith(".pub")

    def contains_secrets(self, path: Path) -> bool:
        """Whether ``path`` is a folder above a credential store (``~``, ``/home``,
        ``/``): searching it reaches them."""
        return any(within(root, path) and root != path for root in self.roots)

    def pattern_may_be_secret(self, pattern: str, *, by_name: bool = True) -> bool:
        """Could the absolute glob ``pattern`` match a secret, or a folder above one?
        Decided on the pattern alone, without looking at the file system;
        ``by_name=False`` leaves out secrets known by their name (``.env``, ``*.pem``)."""
        parts = Path(pattern).parts
        last = parts[-1] if parts else ""
        if by_name and has_glob(last) and any(glob_matches(last, n) for n in _SAMPLE_NAMES):
            return True
        if len(parts) > 2 and glob_matches(parts[1], "proc") and has_glob(pattern):
            return True
        return any(_may_reach(parts, root.parts) for root in self.roots)


def _may_reach(pattern: Sequence[str], root: Sequence[str]) -> bool:
    """Can ``pattern`` name ``root``, a path under it or a folder above it?"""
    for part, name in zip(pattern, root, strict=False):
        if part == "**":
            return True
        if not glob_matches(part, name):
            return False
    return True
