"""Globs in the names of files a command reads (``cat ~/.ss?/id_*``).

Where the folder the pattern starts from can be listed, the pattern is expanded
against the file system and every match (and the file a link leads to) is a read
like any other. Where it cannot (the folder is missing or unreadable, ``**``, too
many matches), the pattern itself is judged: it asks when it could name a secret,
or a folder above a credential store. ``*`` is taken to match a leading dot too,
since ``shopt -s dotglob`` may be on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mnemocode.safety.secret_paths import glob_matches, has_glob

if TYPE_CHECKING:
    from mnemocode.safety.shell.state import Analysis, Shell

MAX_MATCHES = 200


class _Unknown(Exception):
    """The pattern cannot be expanded here."""


def read_pattern(
    an: Analysis, pattern: str, shell: Shell, command: str, *, recursive: bool, names: bool
) -> None:
    absolute = an.resolve(pattern, shell)
    if absolute is None:
        an.ask(command, "unknown:dynamic-read", f"reads {pattern} from a folder known at run time")
        return
    try:
        matches = expand(str(absolute))
    except _Unknown:
        if an.secrets.pattern_may_be_secret(str(absolute), by_name=not names):
            what = f"reads {pattern}, a pattern that may match credential files"
            an.ask(command, "secret:glob", what)
        return
    for match in matches:
        an.read_path(match, command, recursive=recursive)
        real = Path(os.path.realpath(match))
        if real != match and an.secrets.is_secret(real):
            an.ask(command, "secret:read", f"reads {match}, a link to {real}")


def expand(pattern: str) -> list[Path]:
    """The paths an absolute, normalised ``pattern`` matches now (bash passes the
    pattern itself when nothing matches: that file does not exist, so no read)."""
    parts = Path(pattern).parts
    if "**" in parts:
        raise _Unknown
    first = next(i for i, part in enumerate(parts) if has_glob(part))
    base = Path(*parts[:first])
    if not base.is_dir():
        raise _Unknown
    current = [base]
    for part in parts[first:]:
        current = _step(current, part)
    return [p for p in current if os.path.lexists(p)]


def _step(bases: list[Path], part: str) -> list[Path]:
    if not has_glob(part):
        return [base / part for base in bases]
    found: list[Path] = []
    for base in bases:
        try:
            with os.scandir(base) as entries:
                found += [base / e.name for e in entries if glob_matches(part, e.name)]
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise _Unknown from exc
        if len(found) > MAX_MATCHES:
            raise _Unknown
    return found
