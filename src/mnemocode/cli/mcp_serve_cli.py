"""(being written)"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds its commands to the ``mnemo mcp`` group."""
