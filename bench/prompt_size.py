"""Prompt size: tokens of the system prompt plus every tool schema, counted with
tiktoken's o200k_base (the ranks shipped in the `bpe-openai` package, since this
machine cannot download them). Target: under 2,500."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from mnemocode.agent.context import SystemPrefix
from mnemocode.llm.openai_format import to_tools
from mnemocode.llm.tokens import count_tokens, encoding_name
from mnemocode.tools.builtin import builtin_tools


def measure() -> tuple[int, list[tuple[str, int]], int]:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = SystemPrefix.build(Path(tmp), [])
    system_tokens = count_tokens(prefix.text)
    per_tool = []
    for t in builtin_tools():
        schema = to_tools([t.spec])[0]
        per_tool.append((t.name, count_tokens(json.dumps(schema, separators=(",", ":")))))
    return system_tokens, per_tool, system_tokens + sum(n for _, n in per_tool)


def run() -> str:
    system_tokens, per_tool, total = measure()
    lines = [
        "## Prompt size",
        "",
        f"Encoding: `{encoding_name()}`. Tool schemas counted as the JSON sent in `tools`.",
        "Target: under 2,500 tokens.",
        "",
        "| part | tokens |",
        "|---|---|",
        f"| system prompt (base + environment, no AGENTS.md) | {system_tokens} |",
    ]
    lines += [f"| tool `{name}` | {n} |" for name, n in per_tool]
    lines.append(f"| **total** | **{total}** |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
