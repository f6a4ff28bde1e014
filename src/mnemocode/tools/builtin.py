"""The built-in tools, in the order the model sees them, and the compact set for
models with a small context window (where every schema token is a prompt token)."""

from __future__ import annotations

import dataclasses
from typing import Any

from mnemocode.tools.apply_patch import apply_patch, codex_trained
from mnemocode.tools.base import FunctionToolset, Tool
from mnemocode.tools.edit import file_edit
from mnemocode.tools.files import file_read, file_write
from mnemocode.tools.memory import memory_search
from mnemocode.tools.search import glob, grep
from mnemocode.tools.shell import shell_exec
from mnemocode.tools.web import web_fetch, web_search

# A context window up to this size gets the compact tool set.
SMALL_WINDOW = 16_384

# Per tool: the short description, and the parameters kept with their short
# description (None: the name says it). Parameters not listed are left out of the
# schema (still accepted if a model sends them); tools not listed are left out.
_COMPACT: dict[str, tuple[str, dict[str, str | None]]] = {
    "shell_exec": (
        "Run a bash command; returns exit code and output.",
        {"command": None, "timeout_s": "Seconds (default 120).", "cwd": "Relative directory."},
    ),
    "file_read": (
        "Read a file with line numbers.",
        {"path": None, "offset": "First line (1-based).", "limit": "Max lines."},
    ),
    "file_write": ("Create or overwrite a whole file.", {"path": None, "content": None}),
    "file_edit": (
        "Replace old_string (it must match one place) with new_string in a file.",
        {"path": None, "old_string": None, "new_string": None, "replace_all": None},
    ),
    "glob": ("Find files by glob pattern, e.g. **/*.py.", {"pattern": None, "path": "Folder."}),
    "grep": (
        "Search file contents with a regex.",
        {"pattern": None, "path": "File or folder.", "glob": "e.g. *.py", "ignore_case": None},
    ),
    "web_fetch": ("Fetch a URL as Markdown.", {"url": None}),
}


def builtin_tools() -> list[Tool]:
    return [
        shell_exec,
        file_read,
        file_write,
        file_edit,
        glob,
        grep,
        web_fetch,
        web_search,
        memory_search,
    ]


def builtin_toolset() -> FunctionToolset:
    return FunctionToolset(builtin_tools())


def compact(tool: Tool) -> Tool | None:
    """``tool`` with its short description and fewer parameters; None if left out."""
    if tool.name not in _COMPACT:
        return None
    description, keep = _COMPACT[tool.name]
    schema = tool.spec.parameters
    properties: dict[str, Any] = {}
    for name, text in keep.items():
        prop = {k: v for k, v in schema["properties"][name].items() if k != "default"}
        prop.pop("description", None)
        properties[name] = {"description": text, **prop} if text else prop
    parameters = {**schema, "properties": properties}
    if "required" in schema:
        parameters["required"] = [n for n in schema["required"] if n in properties]
    spec = dataclasses.replace(tool.spec, description=description, parameters=parameters)
    return dataclasses.replace(tool, spec=spec)


def tools_for_window(window: int) -> tuple[list[Tool], list[str]]:
    """The built-in tools for a model with ``window`` tokens of context, and the names
    left out (the compact set at or below ``SMALL_WINDOW``)."""
    tools = builtin_tools()
    if window > SMALL_WINDOW:
        return tools, []
    kept: list[Tool] = []
    left_out: list[str] = []
    for tool in tools:
        small = compact(tool)
        if small is None:
            left_out.append(tool.name)
        else:
            kept.append(small)
    return kept, left_out


def patch_tools(setting: bool | str, model: str) -> list[Tool]:
    """``apply_patch`` when ``[tools] apply_patch`` offers it: true, or "auto" for a
    model whose name looks trained on its envelope (GPT, o1/o3/o4, Codex). It comes
    besides file_edit, not instead: either edits through the same engine."""
    wanted = codex_trained(model) if setting == "auto" else bool(setting)
    return [apply_patch] if wanted else []
