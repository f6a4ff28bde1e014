"""What memory puts in front of the model, and what it costs in tokens.

- ``prefix_text``: core traits (those not yet forgotten, pinned first) and project
  memory, for the system prefix. Built once per session so the prefix stays
  byte-identical and provider prompt caches hit.
- ``recent_text``: summaries of past sessions, newest first, with their dates,
  under a token cap; injected with every request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mnemocode.memory.forgetting import in_prompt, trait_score
from mnemocode.memory.types import ENTRY_KINDS, Entry, Summary, Trait

CountTokens = Callable[[str], int]

KIND_TITLES = {
    "decision": "Decisions",
    "architecture": "Architecture",
    "convention": "Conventions",
    "progress": "Progress",
    "task": "Open tasks",
    "fact": "Facts",
    "note": "Notes",
}


@dataclass(slots=True)
class Section:
    """A rendered piece of memory and its token count (for /context and /memory)."""

    layer: str
    text: str
    tokens: int
    items: int
    left_out: int = 0


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %a %H:%M")


def entry_line(entry: Entry) -> str:
    flags: list[str] = [] if entry.status == "active" else [entry.status]
    if entry.pinned:
        flags.append("pinned")
    flag = f" ({', '.join(flags)})" if flags else ""
    why = f" — why: {entry.rationale}" if entry.rationale else ""
    return f"- {entry.key}{flag}: {entry.value}{why}"


def _fit(lines: Sequence[tuple[str, bool]], cap: int, count: CountTokens) -> tuple[list[str], int]:
    """Keep lines in order while they fit in ``cap`` tokens; ``must`` lines always."""
    kept: list[str] = []
    used = left_out = 0
    for line, must in lines:
        n = count(line) + 1
        if must or used + n <= cap:
            kept.append(line)
            used += n
        else:
            left_out += 1
    return kept, left_out


def core_section(traits: list[Trait], now: float, cap: int, count: CountTokens) -> Section:
    live = [t for t in traits if in_prompt(t, now)]
    live.sort(key=lambda t: (not t.pinned, -trait_score(t, now)))
    lines = [(f"- [{t.dimension}] {t.value}", t.pinned) for t in live]
    kept, left_out = _fit(lines, cap, count)
    if not kept:
        return Section("core", "", 0, 0)
    text = "## About the user (from earlier sessions, all projects)\n" + "\n".join(kept)
    return Section("core", text, count(text), len(kept), left_out)


def project_section(entries: list[Entry], project: str, cap: int, count: CountTokens) -> Section:
    if not entries:
        return Section("project", "", 0, 0)
    # Pinned first, then the active ones, newest first; reversed/rejected decisions
    # stay visible (so they are not proposed again) but go last.
    order = sorted(entries, key=lambda e: (not e.pinned, e.status not in {"active"}, -e.updated))
    kept_lines, left_out = _fit([(entry_line(e), e.pinned) for e in order], cap, count)
    kept = set(kept_lines)
    parts = [f"## Project memory: {project} (the user can edit it in .mnemo/MEMORY.md)"]
    for kind in ENTRY_KINDS:
        lines = [entry_line(e) for e in entries if e.kind == kind and entry_line(e) in kept]
        if lines:
            parts.append(f"### {KIND_TITLES[kind]}\n" + "\n".join(sorted(lines)))
    if left_out:
        parts.append(f"({left_out} more entries not shown; memory_search finds them)")
    text = "\n".join(parts)
    return Section("project", text, count(text), len(kept_lines), left_out)


def prefix_text(core: Section, project: Section) -> str:
    body = "\n\n".join(s.text for s in (core, project) if s.text)
    if not body:
        return ""
    return (
        "# What you remember\nMemory from earlier sessions. Prefer it over guessing; the "
        "user's current instructions win over it.\n\n" + body
    )


def recent_section(summaries: list[Summary], now: float, cap: int, count: CountTokens) -> Section:
    """Newest first, whole summaries only, while they fit under ``cap``."""
    if not summaries or cap <= 0:
        return Section("recent", "", 0, 0)
    head = f"# Recent sessions in this project (newest first; now {stamp(now)})"
    used = count(head)
    blocks: list[str] = []
    for summary in summaries:
        span = f"{stamp(summary.started)} → {stamp(summary.ended)}"
        coarse = " (consolidated)" if summary.level > 0 else ""
        block = f"## {span} · {summary.title}{coarse}\n{summary.body.strip()}"
        n = count(block)
        if used + n > cap:
            break
        blocks.append(block)
        used += n
    shown = len(blocks)
    left_out = len(summaries) - shown
    if not blocks:
        return Section("recent", "", 0, 0, left_out)
    if left_out:
        blocks.append(f"({left_out} older sessions not shown; memory_search finds them)")
    text = "\n\n".join([head, *blocks])
    return Section("recent", text, count(text), shown, left_out)
