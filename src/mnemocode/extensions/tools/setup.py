"""A session's custom tools from where they live (``app/build.py`` calls this).

Order, first of a name wins: ``~/.mnemo/tools``, memocode's ``~/.mcode/tools``,
installed plugins (the ``mnemocode.tools`` entry points), then the project's
``.mnemo/tools`` (only in a trusted folder)."""

from __future__ import annotations

from pathlib import Path

from mnemocode.config.trust import PROJECT_TOOLS_DIR
from mnemocode.extensions.tools.loader import Loaded, load_entry_points, load_file, tool_files
from mnemocode.extensions.tools.toolset import CustomToolset

MEMOCODE_DIR = ".mcode/tools"  # under the user's HOME


def open_custom_tools(
    *,
    mnemo_home: Path,
    user_home: Path,
    project_root: Path | None,
    trusted: bool,
    notices: list[str],
) -> CustomToolset:
    """Nothing is imported here: only when the tool list is first asked."""
    project = tool_files(project_root / PROJECT_TOOLS_DIR) if project_root is not None else []
    if project and not trusted:
        names = ", ".join(p.name for p in project)
        notices.append(
            f"project tools not loaded ({names}): this folder is not trusted; "
            f"run `mnemo trust {project_root}` or pass --trust for one run"
        )
        project = []

    def load() -> Loaded:
        found = Loaded()
        for path in tool_files(mnemo_home / "tools"):
            found.add(load_file(path, "user"))
        for path in tool_files(user_home / MEMOCODE_DIR):
            found.add(load_file(path, "memocode"))
        found.add(load_entry_points())
        for path in project:
            found.add(load_file(path, "project"))
        return found

    return CustomToolset(load)
