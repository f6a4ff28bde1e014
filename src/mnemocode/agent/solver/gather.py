"""Step 2, gather: no model call. Reads the planned files and runs the planned
searches through the guarded tools, capped per file and in total (in tokens),
and says what was cut."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mnemocode.agent.solver.plan import Plan
from mnemocode.agent.solver.runner import ToolRunner
from mnemocode.core.types import ToolCall

Counter = Callable[[str], int]
MAX_SEARCH_RESULTS = 50


@dataclass(slots=True)
class Gathered:
    blocks: list[str] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)  # what did not fit, in words
    tokens: int = 0

    def text(self) -> str:
        parts = list(self.blocks)
        if self.cut:
            parts.append("<cut>\n" + "\n".join(self.cut) + "\n</cut>")
        return "\n\n".join(parts)


def cap(text: str, tokens: int, count: Counter) -> tuple[str, bool]:
    """``text`` cut at a line boundary to at most ``tokens``; whether it was cut."""
    have = count(text)
    if have <= tokens:
        return text, False
    keep = max(0, len(text) * tokens // max(have, 1))
    cut = text[:keep]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n") + 1]
    while cut and count(cut) > tokens:
        cut = cut[: len(cut) * 9 // 10]
    return cut, True


async def gather(
    plan: Plan, runner: ToolRunner, count: Counter, *, total: int, per_file: int
) -> Gathered:
    found = Gathered()
    for request in plan.files:
        arguments: dict[str, object] = {"path": request.path, "force": True}
        if request.start_line is not None:
            arguments["offset"] = request.start_line
            if request.end_line is not None and request.end_line >= request.start_line:
                arguments["limit"] = request.end_line - request.start_line + 1
        result = await runner.run(ToolCall(runner.new_id("read"), "file_read", arguments))
        if result.is_error:
            found.cut.append(f"{request.path}: not read ({result.text.strip()[:200]})")
            continue
        _add(found, f'<file path="{request.path}">', result.text, request.path, count,
             total=total, per_file=per_file)  # fmt: skip
    for pattern in plan.searches:
        arguments = {"pattern": pattern, "max_results": MAX_SEARCH_RESULTS}
        result = await runner.run(ToolCall(runner.new_id("grep"), "grep", arguments))
        _add(found, f'<search pattern="{pattern}">', result.text, "", count,
             total=total, per_file=per_file)  # fmt: skip
    for query in plan.web_queries:
        if not runner.offers("web_search"):
            found.cut.append(f"web query {query!r}: web search is not available")
            continue
        result = await runner.run(ToolCall(runner.new_id("web"), "web_search", {"query": query}))
        _add(found, f'<web query="{query}">', result.text, "", count,
             total=total, per_file=per_file)  # fmt: skip
    return found


def _add(
    found: Gathered, head: str, body: str, path: str, count: Counter, *, total: int, per_file: int
) -> None:
    tag = head[1:].split(" ", 1)[0]
    label = path or head
    room = min(per_file, total - found.tokens)
    if room <= 0:
        found.cut.append(f"{label}: left out (the gather budget of {total} tokens is used up)")
        return
    body, was_cut = cap(body, room, count)
    if was_cut:
        why = "per-file cap" if room == per_file else "gather budget"
        found.cut.append(f"{label}: cut to {count(body)} tokens ({why})")
    found.blocks.append(f"{head}\n{body.rstrip()}\n</{tag}>")
    found.tokens += count(body)
    if path:
        found.files_read.append(path)
