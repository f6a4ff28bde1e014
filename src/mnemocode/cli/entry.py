"""Console-script entry point. ``--version`` answers before anything heavy loads."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from mnemocode import __version__

        print(f"mnemo {__version__}")
        return
    from mnemocode.cli.main import run

    run(argv)
