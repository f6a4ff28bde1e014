"""Importing custom tool files and entry points; what fails becomes one
``file:line: problem`` line and the rest loads."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import inspect
import re
import sys
import traceback
import types
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from mnemocode.core.errors import ToolDenied, ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult, ToolSpec
from mnemocode.extensions.tools import memocode_shim
from mnemocode.safety.rules import MCP_PREFIX
from mnemocode.tools.base import Tool, ToolOutput

Source = Literal["user", "project", "memocode", "plugin"]
Runner = Callable[[ToolCall, ToolContext], Awaitable[ToolResult]]
ENTRY_POINT_GROUP = "mnemocode.tools"
# What every provider accepts as a function name.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class CustomTool:
    spec: ToolSpec
    source: Source
    origin: str
    """The file (``path:line``) or the entry point (``name = module:attr``)."""
    run: Runner


@dataclass(slots=True)
class Loaded:
    tools: list[CustomTool] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, other: Loaded) -> None:
        self.tools += other.tools
        self.problems += other.problems


def tool_files(folder: Path) -> list[Path]:
    """The ``*.py`` files of a tools folder (``_private.py`` ones are helpers)."""
    try:
        return sorted(p for p in folder.glob("*.py") if p.is_file() and not p.name.startswith("_"))
    except OSError:
        return []


def load_file(path: Path, source: Source) -> Loaded:
    """Import one file; its ``@tool`` objects (memocode ``Tool`` objects for memocode files)."""
    found = Loaded()
    try:
        module = _import(path, memocode=source == "memocode")
    except (Exception, SystemExit) as exc:
        found.problems.append(f"{_where(exc, path)}: {_describe(exc)}")
        return found
    if source == "memocode":
        for legacy in memocode_shim.memocode_tools(module):
            _accept(found, _from_memocode(legacy, path), source, path)
    else:
        own = [v for v in vars(module).values() if isinstance(v, Tool) and _defined_in(v, module)]
        for item in own:
            _accept(found, _from_tool(item, source), source, path)
    if not found.tools and not found.problems:
        found.problems.append(f"{path}:1: defines no tool (mark an async function with @tool)")
    return found


def load_entry_points() -> Loaded:
    """Each ``mnemocode.tools`` entry point: a ``Tool`` or a list of them."""
    from importlib.metadata import entry_points

    found = Loaded()
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        label = f"entry point {entry.name} = {entry.value}"
        try:
            value = entry.load()
        except (Exception, SystemExit) as exc:
            found.problems.append(f"{_where(exc, None)}: {label}: {_describe(exc)}")
            continue
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, Tool):
                _accept(found, _from_tool(item, "plugin"), "plugin", None, label)
            else:
                found.problems.append(f"{label}: {item!r} is not a @tool function")
    return found


def _import(path: Path, *, memocode: bool) -> types.ModuleType:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    name = f"_mnemo_tool_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look their module up
    try:
        if memocode:
            with memocode_shim.memocode_names():
                spec.loader.exec_module(module)
        else:
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _defined_in(item: Tool, module: types.ModuleType) -> bool:
    return getattr(item.function, "__module__", None) == module.__name__


def _accept(
    found: Loaded,
    made: tuple[ToolSpec, Runner, int],
    source: Source,
    path: Path | None,
    label: str = "",
) -> None:
    spec, run, line = made
    where = f"{path}:{line}" if path is not None else label
    if not _NAME.match(spec.name) or spec.name.startswith(MCP_PREFIX):
        found.problems.append(
            f"{where}: tool name {spec.name!r} is not usable (letters, digits, _ and -, "
            f"at most 64, not starting with {MCP_PREFIX})"
        )
        return
    if source == "project":
        # A cloned repository does not get to declare its own code safe to run unasked.
        spec = replace(spec, read_only=False)
    found.tools.append(CustomTool(spec, source, where, run))


def _from_tool(item: Tool, source: Source) -> tuple[ToolSpec, Runner, int]:
    shielded = replace(item, function=_shielded(item.name, item.function))
    code = getattr(item.function, "__code__", None)
    return item.spec, shielded.run, code.co_firstlineno if code else 1


def _shielded(name: str, function: Callable[..., Any]) -> Callable[..., Awaitable[ToolOutput]]:
    """Whatever the function raises is the model's tool error; a plain (sync) function
    runs in a thread so it cannot stall the session."""
    is_async = inspect.iscoroutinefunction(function)

    async def run(**kwargs: Any) -> ToolOutput:
        try:
            if is_async:
                result = await function(**kwargs)
            else:
                result = await asyncio.to_thread(function, **kwargs)
        except (ToolError, ToolDenied):
            raise
        except Exception as exc:
            raise ToolError(f"{name} failed: {_describe(exc)}") from exc
        if isinstance(result, str | list):
            return cast(ToolOutput, result)
        return "" if result is None else str(result)

    return run


def _from_memocode(legacy: memocode_shim.Tool, path: Path) -> tuple[ToolSpec, Runner, int]:
    schema = legacy.schema
    parameters = schema.parameters if isinstance(schema.parameters, dict) else {}
    spec = ToolSpec(str(schema.name), str(schema.description or ""), parameters or _EMPTY)
    fn = legacy.fn

    async def run(call: ToolCall, ctx: ToolContext) -> ToolResult:
        try:
            output = await asyncio.to_thread(fn, **call.arguments)
        except Exception as exc:
            return ToolResult.of_text(call, f"{spec.name} failed: {_describe(exc)}", is_error=True)
        return ToolResult.of_text(call, "" if output is None else str(output))

    code = getattr(fn, "__code__", None)
    return spec, run, code.co_firstlineno if code else 1


_EMPTY: dict[str, Any] = {"type": "object", "properties": {}}


def _where(exc: BaseException, path: Path | None) -> str:
    """``file:line`` of the failure: the line of ``path`` when it is on the way,
    else the deepest frame outside the import machinery."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno or 1}"
    frames = _frames(exc)
    if path is not None:
        mine = [f for f in frames if Path(f.filename) == path]
        return f"{path}:{(mine[-1].lineno if mine else None) or 1}"
    outside = [f for f in frames if not f.filename.startswith("<frozen")]
    last = outside[-1] if outside else None
    return f"{last.filename}:{last.lineno}" if last else "?"


def _frames(exc: BaseException) -> Iterable[traceback.FrameSummary]:
    return list(traceback.extract_tb(exc.__traceback__))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().split("\n", 1)[0]  # one line per problem
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
