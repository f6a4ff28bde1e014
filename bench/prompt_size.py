"""Prompt size: the fixed overhead of every request — system prompt, tool schemas,
memory (core + project in the prefix, recent-session summaries) — at a 4k, 32k and
200k context window, as the app wires it (compact tool set at ≤16k, memory caps as
a share of the window; the code_map tool above 16k). Counted with tiktoken's
o200k_base (the ranks shipped in the `bpe-openai` package). Memory is a fixed
sample: 6 session summaries, 14 project entries and 5 traits about the user (more
than any cap lets in at 4k).
Target: fixed overhead ≤ 25 % of a 4k window.

Then the small code map the first request carries in a repository too large to
list: its tokens on this repository (git) and on the standard library's ``Lib/``,
focused on a fixed task, at each window."""

from __future__ import annotations

import json
import sysconfig
import tempfile
import time
from pathlib import Path

from mnemocode.agent.budget import memory_caps
from mnemocode.agent.codemap.session import (
    SessionMap,
    first_request_budget,
    first_request_section,
)
from mnemocode.agent.codemap.tool import code_map_tool
from mnemocode.agent.context import SystemPrefix
from mnemocode.config.settings import CodeMapConfig, MemoryConfig
from mnemocode.llm.openai_format import to_tools
from mnemocode.llm.tokens import count_tokens, encoding_name
from mnemocode.memory import injection
from mnemocode.memory.types import Entry, Summary, Trait
from mnemocode.tools.base import Tool
from mnemocode.tools.builtin import SMALL_WINDOW, builtin_tools, tools_for_window

WINDOWS = (4_096, 32_768, 200_000)
TARGET_SHARE_4K = 0.25
NOW = 1_760_000_000.0
ROOT = Path(__file__).resolve().parents[1]
MAP_TASK = (
    "The token budget of the rendered map is off by one: a file whose definitions "
    "just fit is dropped. Fix render and add a test."
)
# A SessionMap that is never started: only the tool's schema is counted.
_MAP_TOOL = code_map_tool(SessionMap(ROOT, cache_path=None, tokens=0, max_file_bytes=1))


def _summaries() -> list[Summary]:
    body = (
        "Goal: make the CSV importer accept quoted newlines. Done: parser switched to the "
        "csv module, tests for quoted fields and CRLF added, fixtures regenerated. "
        "Decisions: keep the streaming reader; reject files over 2 GB with a clear error. "
        "Open: the Excel export still writes ';' in German locales. Files: importer.py, "
        "tests/test_importer.py, fixtures/*.csv."
    )
    return [
        Summary(f"s{i}", NOW - 86_400 * (i + 1), NOW - 86_400 * (i + 1) + 3_600,
                f"Session {i}: importer work", body)
        for i in range(6)
    ]  # fmt: skip


def _entries() -> list[Entry]:
    kinds = ["decision", "convention", "architecture", "fact", "task", "progress", "note"]
    return [
        Entry(f"item-{i}", kinds[i % len(kinds)],  # type: ignore[arg-type]
              f"Use pathlib everywhere in module {i}; tests run with pytest -q", updated=NOW - i)
        for i in range(14)
    ]  # fmt: skip


def _traits() -> list[Trait]:
    values = ["prefers short answers", "uses uv", "writes type hints", "works in Emacs", "Python"]
    return [
        Trait("habits", f"t{i}", value, stability_days=365, last_seen=NOW, created=NOW)
        for i, value in enumerate(values)
    ]


def _memory(window: int, *, scaled: bool = True) -> tuple[str, str]:
    """(prefix memory text, recent text) under the caps the app uses for ``window``."""
    defaults = MemoryConfig()
    recent_cap, prefix_cap = defaults.recent_tokens, defaults.prefix_tokens
    if scaled:
        recent_cap, prefix_cap = memory_caps(window, recent_cap, prefix_cap)
    core = injection.core_section(_traits(), NOW, prefix_cap // 3, count_tokens)
    project = injection.project_section(_entries(), "demo", prefix_cap - core.tokens, count_tokens)
    recent = injection.recent_section(_summaries(), NOW, recent_cap, count_tokens)
    return injection.prefix_text(core, project), recent.text


def _schema_tokens(tools: list[Tool]) -> int:
    return sum(
        count_tokens(json.dumps(to_tools([t.spec])[0], separators=(",", ":"))) for t in tools
    )


def overhead(window: int, *, scaled: bool = True) -> dict[str, int]:
    """Fixed tokens for ``window``; ``scaled`` False: as before any scaling (every
    tool in full, the configured memory caps)."""
    tools = tools_for_window(window)[0] if scaled else builtin_tools()
    if scaled and window > SMALL_WINDOW:
        tools = [*tools, _MAP_TOOL]
    names = {t.name for t in tools}
    prefix_memory, recent = _memory(window, scaled=scaled)
    with tempfile.TemporaryDirectory() as tmp:
        bare = SystemPrefix.build(Path(tmp), [], tool_names=names)
        full = SystemPrefix.build(Path(tmp), [], memory=prefix_memory, tool_names=names)
    system = count_tokens(bare.text)
    memory = count_tokens(full.text) - system + (count_tokens(recent) if recent else 0)
    tool_tokens = _schema_tokens(tools)
    return {
        "system": system,
        "tools": tool_tokens,
        "tool_count": len(tools),
        "memory": memory,
        "total": system + tool_tokens + memory,
    }


def map_rows() -> list[str]:
    """The first request's code map: tokens per repository and window."""
    from mnemocode.agent.codemap import CodeMap

    config = CodeMapConfig()
    repos = [
        ("mnemocode (this repository)", ROOT),
        ("CPython `Lib/`", Path(sysconfig.get_paths()["stdlib"])),
    ]
    lines = [
        "",
        f"Code map in the first request (`[codemap] first_request_tokens` = "
        f"{config.first_request_tokens}, only above {config.first_request_min_files} files; "
        f"none at ≤16k; at most 5 % of the window), focused on a fixed task; tag cache cold:",
        "",
        "| repository | files | window | map tokens (with header) | share of window | cold build |",
        "|---|---|---|---|---|---|",
    ]
    for label, root in repos:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            code_map = CodeMap(root, cache_path=Path(tmp) / "codemap.db")
            files = len(code_map.selection().files)
            built = time.perf_counter() - started
            for window in WINDOWS:
                budget = first_request_budget(config.first_request_tokens, window)
                section = first_request_section(
                    code_map, root, MAP_TASK, tokens=budget,
                    min_files=config.first_request_min_files, tool=True,
                )  # fmt: skip
                tokens = count_tokens(section) if section else 0
                lines.append(
                    f"| {label} | {files:,} | {window:,} | {tokens} | {tokens / window:.1%} | "
                    f"{built:.2f} s |"
                )
    return lines


def run() -> str:
    started = time.perf_counter()
    rows = {window: overhead(window) for window in WINDOWS}
    lines = [
        "## Prompt size",
        "",
        f"Encoding: `{encoding_name()}`. Tool schemas counted as the JSON sent in `tools`; "
        "memory is a fixed sample (6 session summaries, 14 project entries, 5 traits) cut "
        "to the caps the app applies for each window. Target: fixed overhead ≤ 25 % of a "
        "4k window.",
        "",
        "| window | system prompt | tools | memory | fixed overhead | share of window |",
        "|---|---|---|---|---|---|",
    ]
    for window, row in rows.items():
        share = row["total"] / window
        lines.append(
            f"| {window:,} | {row['system']} | {row['tools']} ({row['tool_count']} tools) | "
            f"{row['memory']} | {row['total']} | {share:.1%} |"
        )
    unscaled = overhead(WINDOWS[0], scaled=False)
    lines.append(
        f"| {WINDOWS[0]:,}, nothing scaled (before) | {unscaled['system']} | "
        f"{unscaled['tools']} ({unscaled['tool_count']} tools) | {unscaled['memory']} | "
        f"{unscaled['total']} | {unscaled['total'] / WINDOWS[0]:.1%} |"
    )
    small = rows[WINDOWS[0]]["total"] / WINDOWS[0]
    verdict = "met" if small <= TARGET_SHARE_4K else "NOT met"
    lines += [
        "",
        f"4k target ({TARGET_SHARE_4K:.0%}): {verdict} ({small:.1%}). At ≤16k the compact "
        "tool set is used (short descriptions; web_search and memory_search left out); "
        "memory caps are min(configured, 5 % of the window) for recent sessions and "
        "min(configured, 4 %) for core + project memory.",
        "",
        "Full tool set, per tool:",
        "",
        "| tool | tokens |",
        "|---|---|",
    ]
    lines += [f"| `{t.name}` | {_schema_tokens([t])} |" for t in [*builtin_tools(), _MAP_TOOL]]
    lines += map_rows()
    lines.append(f"\n({time.perf_counter() - started:.2f} s)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
