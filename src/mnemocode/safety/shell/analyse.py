"""The entry point: one command line in, one ``ShellVerdict`` out."""

from __future__ import annotations

from pathlib import Path

from mnemocode.safety.shell.state import Analysis, Shell
from mnemocode.safety.shell.verdict import ShellVerdict
from mnemocode.safety.shell.walk import Walker


def analyse_command(command: str, *, cwd: Path, home: Path) -> ShellVerdict:
    """Classify ``command`` as it would run in ``cwd`` for a user whose home is ``home``.

    The verdict is the most severe of its parts (deny > ask > allow); it does not
    depend on the permission mode — the caller maps it onto ask/auto/bypass.
    Nothing is run and the file system is not touched.
    """
    an = Analysis(workdir=cwd, home=home)
    try:
        Walker(an).run_script(command, Shell(an.workdir))
    except RecursionError:
        an.ask(command, "unknown:too-complex", "is nested too deeply to analyse")
    return an.verdict()
