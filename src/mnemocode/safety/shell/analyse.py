"""The entry point: one command line in, one ``ShellVerdict`` out.

How it decides (details in the modules named):

- ``parse``/``misread``: tree-sitter-bash builds the tree; wherever tree-sitter is
  known to read the text differently from bash, or cannot parse it, the verdict asks.
- ``walk``: statements in execution order, tracking the cwd through ``cd`` (copies
  for subshells, pipeline stages, substitutions); every ``$(...)``, ``<(...)`` and
  backtick anywhere is analysed; redirections are writes; pipelines from a download
  into an interpreter are denied; fork bombs are denied.
- ``words``: each word expanded as far as is static (quotes, escapes, ``~``,
  ``$HOME``, ``$PWD``, ``$(pwd)``); anything else is unknown ("?").
- ``commands``: wrappers unwrapped (``wrappers``, ``interp``), then known read-only
  commands with flag checks (``reads``, ``gitcmd``), writers with every target
  (``writes``), other known tools (``tools``); anything else asks.

Also asked about (issue 10, the analysis as the second line behind the sandbox):
``/dev/tcp|udp`` redirections (``ShellVerdict.network``); output duplicated to a
descriptor other than 1/2 (an unknown write); reads through globs (``globs``: expanded
against the file system, else judged by pattern) that may reach a secret, and reads
named only at run time; arithmetic on values not statically numbers (``arith``); git
in an embedded repository (``gitcmd``, which stats the file system); files read by
git, xargs, awk, jq and ``find -exec``; environment dumps and ``/proc`` indirection.

Known limits: values other than ``$HOME``/``$PWD`` (and numbers, for arithmetic) are
not tracked, so writes through them are "?" and reads through them ask; paths are
normalised lexically (globs excepted, whose matches are followed through links),
symlinks are the path policy's job; read-only git trusts the work directory's own
repository configuration (``.git/config`` is a protected path); names that ``xargs``
reads from standard input are not judged (the sandbox hides credentials); a glob is
expanded when analysed, so a file created between analysis and run is not seen;
scripts fed to a shell on standard input (``bash <<EOF``) ask rather than being
analysed; zsh scripts are read with the bash grammar (globs ask) and other shells'
scripts ask.
"""

from __future__ import annotations

import os
from pathlib import Path

from mnemocode.safety.shell.state import Analysis, Shell, normalise
from mnemocode.safety.shell.verdict import ShellVerdict
from mnemocode.safety.shell.walk import Walker


def analyse_command(
    command: str, *, cwd: Path, home: Path, workdir: Path | None = None
) -> ShellVerdict:
    """Classify ``command`` as it would run in ``cwd`` for a user whose home is ``home``.

    The verdict is the most severe of its parts (deny > ask > allow); it does not
    depend on the permission mode — the caller maps it onto ask/auto/bypass.
    ``workdir`` (default: ``cwd``) is the work directory ``cwd`` lies in: its
    repository is the one git may run in freely. Nothing is run or written; the
    file system is read only to expand globs and to find embedded git repositories.
    """
    an = Analysis(workdir=workdir or cwd, home=home)
    start = Shell(Path(normalise(os.path.abspath(cwd))))
    try:
        Walker(an).run_script(command, start)
    except RecursionError:
        an.ask(command, "unknown:too-complex", "is nested too deeply to analyse")
    return an.verdict()
