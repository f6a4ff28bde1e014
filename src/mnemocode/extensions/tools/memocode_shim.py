"""memocode's tool format, so its users' ``~/.mcode/tools/*.py`` files load unchanged
without memocode installed.

Those files do ``from tools.registry import Tool, ToolSchema`` and define ``TOOLS``
(a list) or ``*_TOOL`` variables holding ``Tool(schema=ToolSchema(...), fn=...)``;
``fn`` is a plain function called with the arguments as keywords, its result turned
into text. The stand-in ``tools`` package exists only while such a file is imported.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_MODULES = ("tools", "tools.registry")


@dataclass
class ToolSchema:
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolResult:
    success: bool
    output: str
    error: str = ""


class Tool:
    def __init__(
        self, schema: ToolSchema, fn: Callable[..., Any], supports_streaming: bool = False
    ) -> None:
        self.schema = schema
        self.fn = fn
        self.supports_streaming = supports_streaming


class ToolRegistry:
    """Accepted so that files which build one at import do not fail; unused here."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, tool: Tool) -> None:
        self._tools[tool.schema.name] = tool


def _modules() -> dict[str, types.ModuleType]:
    package = types.ModuleType("tools")
    package.__path__ = []
    registry = types.ModuleType("tools.registry")
    for name, value in (
        ("Tool", Tool),
        ("ToolSchema", ToolSchema),
        ("ToolResult", ToolResult),
        ("ToolRegistry", ToolRegistry),
    ):
        setattr(registry, name, value)
    package.registry = registry  # type: ignore[attr-defined]
    return {"tools": package, "tools.registry": registry}


@contextmanager
def memocode_names() -> Iterator[None]:
    """``tools.registry`` importable for the duration; whatever was there before comes back."""
    saved = {name: sys.modules.get(name) for name in _MODULES}
    sys.modules.update(_modules())
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def memocode_tools(module: types.ModuleType) -> list[Tool]:
    """What memocode's loader would register from this module, in its order."""
    found: list[Tool] = []
    listed = getattr(module, "TOOLS", None)
    if isinstance(listed, list):
        found += [t for t in listed if isinstance(t, Tool)]
    for attr in sorted(vars(module)):
        value = getattr(module, attr)
        wanted = attr.endswith("_TOOL") and not attr.startswith("_")
        if wanted and isinstance(value, Tool) and value not in found:
            found.append(value)
    return found
