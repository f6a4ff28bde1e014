"""Diffs shown *before* a write is approved: what file_edit / file_write would do."""

from __future__ import annotations

import difflib
from pathlib import Path

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.guard import Previewer
from mnemocode.tools.apply_patch import PatchError, plan_patch
from mnemocode.tools.edit import EditError, apply_edit
from mnemocode.tools.files import decode_text, encode_text, shrink_refusal

MAX_PREVIEW_LINES = 120


def _path(call: ToolCall, ctx: ToolContext) -> Path:
    raw = Path(str(call.arguments.get("path", ""))).expanduser()
    return raw if raw.is_absolute() else ctx.cwd / raw


def _current(path: Path) -> str | None:
    if not path.is_file():
        return None
    decoded = decode_text(path.read_bytes())
    return decoded.text if decoded else None


def unified(before: str, after: str, name: str) -> str:
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{name}",
            f"b/{name}",
            n=2,  # the context file_edit reports with, so the REPL can tell they match
        )
    )
    if len(lines) > MAX_PREVIEW_LINES:
        lines = [
            *lines[:MAX_PREVIEW_LINES],
            f"... ({len(lines) - MAX_PREVIEW_LINES} more diff lines)\n",
        ]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def preview_edit(call: ToolCall, ctx: ToolContext) -> str | None:
    path = _path(call, ctx)
    before = _current(path)
    old, new = str(call.arguments.get("old_string", "")), str(call.arguments.get("new_string", ""))
    if before is None:
        return unified("", new, str(call.arguments.get("path"))) if not old else None
    try:
        after = apply_edit(before, old, new, bool(call.arguments.get("replace_all", False))).text
    except EditError as exc:
        return f"(the edit will fail: {exc})"
    return unified(before, after, str(call.arguments.get("path")))


def preview_write(call: ToolCall, ctx: ToolContext) -> str | None:
    path = _path(call, ctx)
    content = str(call.arguments.get("content", ""))
    if path.is_file() and not call.arguments.get("overwrite_shrink"):
        old = path.read_bytes()
        new = encode_text(content.replace("\r\n", "\n"), decode_text(old))
        refusal = shrink_refusal(str(call.arguments.get("path")), len(old), len(new))
        if refusal is not None:
            return f"(the write will fail: {refusal})"
    before = _current(path) or ""
    return unified(before, content, str(call.arguments.get("path")))


def preview_patch(call: ToolCall, ctx: ToolContext) -> str | None:
    """Each file's diff, or deletion, as apply_patch would leave it."""
    try:
        changes = plan_patch(str(call.arguments.get("input", "")), ctx.cwd)
    except PatchError as exc:
        return f"(the patch will fail: {exc})"
    parts = [
        f"(deletes {c.shown})\n"
        if c.after is None
        else unified(c.before or "", c.after_text, c.shown)
        for c in changes
    ]
    return "".join(parts)


def default_previewers() -> dict[str, Previewer]:
    return {"file_edit": preview_edit, "file_write": preview_write, "apply_patch": preview_patch}
