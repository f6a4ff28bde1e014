"""The built-in tool set: names, read-only flags and a prompt budget for schemas."""

from __future__ import annotations

import json

from mnemocode.llm.tokens import count_tokens
from mnemocode.tools.builtin import builtin_tools, builtin_toolset

# The system prompt and all tool schemas share 2,500 tokens; tools get about half.
TOOLS_TOKEN_BUDGET = 1_300


def test_names_order_and_read_only_flags() -> None:
    tools = builtin_tools()
    assert [t.name for t in tools] == [
        "shell_exec",
        "file_read",
        "file_write",
        "file_edit",
        "glob",
        "grep",
        "web_fetch",
        "web_search",
        "memory_search",
    ]
    read_only = {t.name for t in tools if t.spec.read_only}
    assert read_only == {"file_read", "glob", "grep", "web_fetch", "web_search", "memory_search"}
    assert [s.name for s in builtin_toolset().specs()] == [t.name for t in tools]


def test_schemas_are_short() -> None:
    total = 0
    for tool in builtin_tools():
        spec = tool.spec
        assert spec.description and len(spec.description) <= 120, spec.name
        assert "\n" not in spec.description, spec.name
        for name, param in spec.parameters["properties"].items():
            assert len(param.get("description", "")) <= 110, (spec.name, name)
        wire = {"name": spec.name, "description": spec.description, "parameters": spec.parameters}
        total += count_tokens(json.dumps({"type": "function", "function": wire}))
    assert total <= TOOLS_TOKEN_BUDGET
