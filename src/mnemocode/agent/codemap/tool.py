"""``code_map``: the read-only tool that shows the ranked code map, focused on a
query or a path, or where a symbol is defined and referenced (``file:line``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mnemocode.agent.codemap.session import SessionMap, focus_for
from mnemocode.agent.codemap.types import Focus, Tag
from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.tools.base import FunctionToolset, Tool, tool

if TYPE_CHECKING:
    from mnemocode.agent.codemap import CodeMap

TOOL_NAME = "code_map"
MAX_TOKENS = 16_000
MAX_REFERENCES = 60


def code_map_tool(session: SessionMap) -> Tool:
    @tool(name=TOOL_NAME, read_only=True)
    async def code_map(
        ctx: ToolContext,
        query: str | None = None,
        path: str | None = None,
        symbol: str | None = None,
        tokens: int | None = None,
    ) -> str:
        """Ranked map of the repository: files with their key definitions (signatures,
        line numbers), most relevant first. Use it to find where to look before reading.

        Args:
            query: What you are looking for (task words, identifiers, an error message).
            path: Focus on this file or folder.
            symbol: A name: where it is defined and referenced, as file:line.
            tokens: Size of the map (default from [codemap] tokens).
        """
        if symbol:
            return await session.run(lambda cm: symbol_report(cm, symbol.strip()))
        budget = max(1, min(tokens or session.tokens, MAX_TOKENS))
        chat = session.relative(list(ctx.seen_files))

        def render(cm: CodeMap) -> str:
            focus = focus_for(cm, session.root, query or "", chat)
            if path:
                focus = _on_path(cm, session, focus, path)
            return cm.render(focus, tokens=budget)

        rendered = await session.run(render)
        if not rendered.strip():
            return "The code map is empty: no source files were found."
        return rendered

    return code_map


def code_map_toolset(session: SessionMap) -> FunctionToolset:
    return FunctionToolset([code_map_tool(session)])


def _on_path(cm: CodeMap, session: SessionMap, focus: Focus, path: str) -> Focus:
    """``focus`` with every map file at or under ``path`` in it."""
    wanted = session.relative([path])
    if not wanted:
        raise ToolError(f"{path} is outside the repository ({session.root})")
    prefix = wanted[0]
    inside = [f for f in cm.selection().files if f == prefix or f.startswith(prefix + "/")]
    if not inside:
        raise ToolError(f"no file of the code map is at or under {path}")
    # One focused file weighs 10; a folder's weight is shared among its files.
    weight = max(1.0, 10.0 / len(inside))
    files = {**focus.files, **dict.fromkeys(inside, weight)}
    return replace(focus, files=files)


def symbol_report(cm: CodeMap, name: str) -> str:
    """Where ``name`` is defined and referenced, one ``file:line`` a line."""
    if not name:
        raise ToolError("symbol is empty")
    definitions, references = cm.find(name)
    if not definitions and not references:
        return f"{name}: no definition or reference in the code map."
    lines = [f"{name}: {_count(definitions, 'definition')}, {_count(references, 'reference')}"]
    lines += [f"{t.path}:{t.line}  {_signature(t)}" for t in definitions]
    if references:
        lines.append("references:")
        lines += [f"{t.path}:{t.line}" for t in references[:MAX_REFERENCES]]
        if len(references) > MAX_REFERENCES:
            lines.append(f"… {len(references) - MAX_REFERENCES} more")
    return "\n".join(lines)


def _count(tags: Sequence[Tag], what: str) -> str:
    return f"{len(tags)} {what}{'' if len(tags) == 1 else 's'}"


def _signature(tag: Tag) -> str:
    text = " ".join(tag.signature.split()) or tag.name
    if len(text) > 200:
        text = text[:199] + "…"
    owner = ".".join(tag.parents)
    return f"{text}  (in {owner})" if owner else text
