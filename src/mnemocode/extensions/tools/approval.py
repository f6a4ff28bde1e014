"""``@tool(read_only=True)`` on a custom tool: it runs without a question exactly where
``file_read`` would — its ``path`` argument, if any, through the same path checks
(secret files and places outside the work directory still ask, or are refused in
auto mode). A project's tools never get this (the loader clears their flag): a
cloned repository cannot declare its own code safe."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolSpec
from mnemocode.extensions.tools.toolset import CustomToolset
from mnemocode.safety.guard import Policy, Verdict

_EXTENSION_RULES = {"ext:ask", "auto:ext:ask"}
_AS_READER = "file_read"


@dataclass(slots=True)
class CustomToolPolicy:
    inner: Policy
    tools: CustomToolset

    def decide(self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext) -> Verdict:
        verdict = self.inner.decide(call, spec, ctx)
        if verdict.rule not in _EXTENSION_RULES:
            return verdict
        custom = self.tools.get(call.name)
        if custom is None or not custom.spec.read_only:
            return verdict
        path = call.arguments.get("path")
        reader = dataclasses.replace(
            call, name=_AS_READER, arguments={"path": path} if isinstance(path, str) else {}
        )
        as_reader = self.inner.decide(reader, None, ctx)
        if as_reader.action != "allow":
            return dataclasses.replace(as_reader, reason=f"{call.name}: {as_reader.reason}")
        return Verdict(
            "allow",
            f"read-only custom tool from {custom.origin}",
            "custom:read-only",
            as_reader.path,
        )
