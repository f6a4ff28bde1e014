"""The session's custom tools as one toolset, loaded the first time it is asked."""

from __future__ import annotations

import threading
from collections.abc import Callable

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult, ToolSpec
from mnemocode.extensions.tools.loader import CustomTool, Loaded


class CustomToolset:
    """First of a name wins (the order ``load`` gives); a later one is reported."""

    def __init__(self, load: Callable[[], Loaded]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._tools: dict[str, CustomTool] | None = None
        self._problems: list[str] = []

    def start_loading(self) -> None:
        """Import in the background while the rest of the session starts."""
        threading.Thread(target=self._loaded, name="mnemo-custom-tools", daemon=True).start()

    def _loaded(self) -> dict[str, CustomTool]:
        with self._lock:
            if self._tools is None:
                found = self._load()
                tools: dict[str, CustomTool] = {}
                for item in found.tools:
                    first = tools.setdefault(item.spec.name, item)
                    if first is not item:
                        found.problems.append(
                            f"{item.origin}: tool {item.spec.name!r} already comes from "
                            f"{first.origin}; this one is not loaded"
                        )
                self._problems = found.problems
                self._tools = tools
            return self._tools

    def take_problems(self) -> list[str]:
        """What could not be loaded, each line once (the caller reports it)."""
        self._loaded()
        problems, self._problems = self._problems, []
        return problems

    def get(self, name: str) -> CustomTool | None:
        return self._loaded().get(name)

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self._loaded().values()]

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        found = self._loaded().get(call.name)
        if found is None:
            return ToolResult.of_text(call, f"Unknown tool {call.name!r}", is_error=True)
        return await found.run(call, ctx)
