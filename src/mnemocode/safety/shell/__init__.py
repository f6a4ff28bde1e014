"""Shell-command analysis: parse a command line with tree-sitter-bash and decide
whether it is known read-only (allow), needs a person (ask) or is catastrophic
(deny), naming the sub-command and rule that decided and every write target.

    from mnemocode.safety.shell import analyse_command
    analyse_command("ls && rm -rf ~", cwd=Path.cwd(), home=Path.home())
    # ShellVerdict(action='deny', rule='deny:rm-home', ...)

Importing this package is cheap: the analyser's modules are loaded on the first
call and tree-sitter when it first parses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnemocode.safety.shell.verdict import ShellVerdict

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ShellVerdict", "analyse_command"]


def analyse_command(
    command: str, *, cwd: Path, home: Path, workdir: Path | None = None
) -> ShellVerdict:
    """Classify ``command`` as it would run in ``cwd`` (inside the work directory
    ``workdir``, default ``cwd``) for a user whose home is ``home``.

    The verdict is the most severe of its parts (deny > ask > allow) and does not
    depend on the permission mode; nothing is run and no file is written.
    """
    from mnemocode.safety.shell.analyse import analyse_command as analyse

    return analyse(command, cwd=cwd, home=home, workdir=workdir)
