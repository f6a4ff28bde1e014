"""Tools are plain typed async functions. The JSON schema comes from the signature
and the docstring (first paragraph = description, ``Args:`` section = parameter
descriptions). A parameter annotated ``ToolContext`` is injected, not exposed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from mnemocode.core.errors import ToolDenied, ToolError
from mnemocode.core.protocols import ToolContext, Toolset
from mnemocode.core.types import ContentPart, TextPart, ToolCall, ToolResult, ToolSpec

ToolOutput = str | list[ContentPart]
ToolFunction = Callable[..., Awaitable[ToolOutput]]

_ARG_LINE = re.compile(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Tool:
    spec: ToolSpec
    function: ToolFunction
    arguments_model: type[BaseModel]
    context_param: str | None

    @property
    def name(self) -> str:
        return self.spec.name

    async def run(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        try:
            args = self.arguments_model.model_validate(call.arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                for err in exc.errors()
            )
            return ToolResult.of_text(
                call, f"Invalid arguments for {self.name}: {problems}", is_error=True
            )
        kwargs = {name: getattr(args, name) for name in type(args).model_fields}
        if self.context_param:
            kwargs[self.context_param] = ctx
        try:
            output = await self.function(**kwargs)
        except ToolDenied as exc:
            return ToolResult.of_text(call, str(exc), is_error=True, denied_by=exc.by)
        except ToolError as exc:
            return ToolResult.of_text(call, str(exc), is_error=True)
        content: list[ContentPart] = [TextPart(output)] if isinstance(output, str) else output
        return ToolResult(call.id, call.name, content)


def _split_docstring(doc: str) -> tuple[str, dict[str, str]]:
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in lines:
        if line.strip() in {"Args:", "Arguments:", "Parameters:"}:
            in_args = True
            continue
        if in_args:
            match = _ARG_LINE.match(line)
            if match:
                current = match.group(1)
                params[current] = match.group(2).strip()
            elif line.startswith("    ") and current:
                params[current] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                in_args = False
        elif not in_args:
            description.append(line)
    return "\n".join(description).strip(), params


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _compact_optionals(schema: dict[str, Any]) -> None:
    """``x: T | None = None`` becomes plain ``T`` (it is not required anyway): the
    ``anyOf [T, null]`` + ``default: null`` pydantic writes costs ~15 tokens a field."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if prop.get("default", 0) is None and isinstance(options, list) and len(options) == 2:
            rest = [o for o in options if o != {"type": "null"}]
            if len(rest) == 1:
                del prop["anyOf"], prop["default"]
                prop.update(rest[0])


def tool(*, name: str | None = None, read_only: bool = False) -> Callable[[ToolFunction], Tool]:
    """Turn an async function into a ``Tool``."""

    def decorate(function: ToolFunction) -> Tool:
        description, param_docs = _split_docstring(function.__doc__ or "")
        hints = get_type_hints(function)
        fields: dict[str, Any] = {}
        context_param: str | None = None
        for param in inspect.signature(function).parameters.values():
            annotation = hints.get(param.name, Any)
            if annotation is ToolContext:
                context_param = param.name
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (
                annotation,
                Field(default, description=param_docs.get(param.name) or None),
            )
        model = create_model(
            f"{function.__name__}_args",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        schema = _strip_titles(model.model_json_schema())
        _compact_optionals(schema)
        schema.pop("additionalProperties", None)
        spec = ToolSpec(name or function.__name__, description, schema, read_only)
        return Tool(spec, function, model, context_param)

    return decorate


class FunctionToolset:
    """A toolset made of ``Tool`` objects. Unknown tool names are an error result."""

    def __init__(self, tools: Sequence[Tool]) -> None:
        self._tools = {t.name: t for t in tools}

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self._tools.values()]

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        found = self._tools.get(call.name)
        if found is None:
            known = ", ".join(sorted(self._tools))
            return ToolResult.of_text(
                call, f"Unknown tool {call.name!r}. Available tools: {known}", is_error=True
            )
        return await found.run(call, ctx)


class CombinedToolset:
    """Several toolsets seen as one; the first that has a name wins."""

    def __init__(self, toolsets: Sequence[Toolset]) -> None:
        self._toolsets = list(toolsets)

    def specs(self) -> list[ToolSpec]:
        seen: dict[str, ToolSpec] = {}
        for ts in self._toolsets:
            for spec in ts.specs():
                seen.setdefault(spec.name, spec)
        return list(seen.values())

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        for ts in self._toolsets:
            if any(spec.name == call.name for spec in ts.specs()):
                return await ts.call(call, ctx)
        return ToolResult.of_text(call, f"Unknown tool {call.name!r}", is_error=True)
