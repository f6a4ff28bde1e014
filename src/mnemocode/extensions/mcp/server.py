"""mnemo's tools as an MCP server (``mnemo mcp serve``), on the SDK's low-level
``Server``: our tools already have JSON schemas, so they are listed as they are.

Every call goes through the ``GuardedToolset`` the agent uses — policy, rules,
approval (``approval.ElicitationApprover``), checkpoints, audit — and each call is a
turn of one session, so ``mnemo undo``-style rewinds and the audit log see it.
The ``agent`` tool runs a whole task; it is a callable handed in by the CLI, since
building an App is above this layer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ImagePart, TextPart, ToolCall, ToolResult, ToolSpec
from mnemocode.extensions.mcp.approval import (
    APPROVAL_SCHEMA,
    Answer,
    Asking,
    InputNeeded,
    current_asking,
)
from mnemocode.safety.guard import GuardedToolset

if TYPE_CHECKING:
    import mcp_types as types
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server

SERVER_NAME = "mnemo"
# The built-in tools offered to MCP clients (code_map only where the session has a map).
SERVED_TOOLS = (
    "file_read", "file_write", "file_edit", "glob", "grep", "shell_exec",
    "memory_search", "code_map",
)  # fmt: skip
AGENT_TOOL = "agent"
AGENT_SPEC = ToolSpec(
    AGENT_TOOL,
    "Run a whole task with mnemo's own agent (its model, memory, tools and safety "
    "policy) in a directory inside the served work directory; returns the final "
    "answer and the token usage.",
    {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "description": "The task, as you would tell mnemo."},
            "cwd": {
                "type": "string",
                "description": "Directory to work in, relative to the served work "
                "directory (default: the work directory itself).",
            },
        },
        "required": ["prompt"],
    },
)


@dataclass(frozen=True, slots=True)
class AgentAnswer:
    text: str
    usage: dict[str, Any]
    is_error: bool = False


AgentRunner = Callable[[str, Path], Awaitable[AgentAnswer]]


class PromptSource(Protocol):
    """Where MCP prompts come from. Skills (issue 14) become prompts through this:
    the server lists and renders whatever source the CLI hands it; with none, it
    offers no prompts capability."""

    def prompts(self) -> list[types.Prompt]: ...

    def render(self, name: str, arguments: Mapping[str, str]) -> types.GetPromptResult: ...


@dataclass(slots=True)
class ServedTools:
    guard: GuardedToolset
    context: ToolContext
    run_agent: AgentRunner | None = None
    prompts: PromptSource | None = None
    _turn: int = field(default=0, init=False)

    @property
    def workdir(self) -> Path:
        return self.context.cwd

    def specs(self) -> list[ToolSpec]:
        served = [s for s in self.guard.specs() if s.name in SERVED_TOOLS]
        return served + ([AGENT_SPEC] if self.run_agent is not None else [])

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """One call through the guard, as one turn; a name not served is refused
        here, before anything else could see it."""
        call = ToolCall(f"mcp-{uuid.uuid4().hex[:12]}", name, arguments)
        if name == AGENT_TOOL and self.run_agent is not None:
            return await self._agent(call)
        if name not in {s.name for s in self.specs()}:
            known = ", ".join(s.name for s in self.specs())
            return ToolResult.of_text(call, f"Unknown tool {name!r}. Tools: {known}", is_error=True)
        self._turn += 1
        ctx = dataclasses.replace(self.context, current_call_id=call.id, turn=self._turn)
        try:
            return await self.guard.call(call, ctx)
        finally:
            await asyncio.to_thread(self.guard.end_turn, ctx.session_id, ctx.turn)

    async def _agent(self, call: ToolCall) -> ToolResult:
        assert self.run_agent is not None
        prompt = str(call.arguments.get("prompt", "")).strip()
        if not prompt:
            return ToolResult.of_text(call, "agent: `prompt` is required", is_error=True)
        where = (self.workdir / str(call.arguments.get("cwd") or ".")).resolve()
        root = self.workdir.resolve()
        if where != root and root not in where.parents:
            message = f"agent: cwd {where} is outside the served work directory {root}"
            return ToolResult.of_text(call, message, is_error=True)
        if not where.is_dir():
            return ToolResult.of_text(call, f"agent: {where} is not a directory", is_error=True)
        answer = await self.run_agent(prompt, where)
        body = json.dumps({"result": answer.text, "usage": answer.usage}, ensure_ascii=False)
        return ToolResult.of_text(call, body, is_error=answer.is_error)


def build_server(tools: ServedTools, *, version: str = "") -> Server[Any]:
    """The low-level server offering ``tools``; run it with ``serve_stdio`` or
    ``http_app`` (``serve_http.py``)."""
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

    async def list_tools(
        _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_mcp_tool(s) for s in tools.specs()])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        asking = _asking(ctx, params, suspend=params.name != AGENT_TOOL)
        token = current_asking.set(asking)
        try:
            result = await tools.call(params.name, dict(params.arguments or {}))
        except InputNeeded as needed:
            return types.InputRequiredResult(
                input_requests={needed.key: _approval_request(needed.question)},
                request_state=needed.key,
            )
        finally:
            current_asking.reset(token)
        return _mcp_result(result)

    handlers: dict[str, Any] = {}
    if tools.prompts is not None:
        source = tools.prompts

        async def list_prompts(
            _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
        ) -> types.ListPromptsResult:
            return types.ListPromptsResult(prompts=source.prompts())

        async def get_prompt(
            _ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
        ) -> types.GetPromptResult:
            return source.render(params.name, params.arguments or {})

        handlers = {"on_list_prompts": list_prompts, "on_get_prompt": get_prompt}
    server: Server[Any] = Server(
        SERVER_NAME,
        version=version,
        instructions="mnemo's coding tools, behind its safety policy.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        **handlers,
    )
    # The request state names the question a retry answers: sealed, bound to the
    # call's name and arguments, and expiring, so a client cannot forge or move it.
    security = RequestStateSecurity.ephemeral()
    server.middleware.append(RequestStateBoundary(security, default_audience=SERVER_NAME))
    return server


async def serve_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


# ---- protocol conversions -----------------------------------------------------


def _asking(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, *, suspend: bool
) -> Asking:
    import mcp_types as types
    from mcp_types.version import is_version_at_least

    capabilities = ctx.session.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare ``elicitation: {}`` (before modes existed) means forms.
    form = elicitation is not None and (elicitation.form is not None or elicitation.url is None)
    modern = is_version_at_least(ctx.session.protocol_version, "2026-07-28")
    answers = {
        key: Answer(value.action, value.content)
        for key, value in (params.input_responses or {}).items()
        if isinstance(value, types.ElicitResult)
    }
    send = None
    if not modern and ctx.session.can_send_request:
        session, request_id = ctx.session, ctx.request_id

        async def send_form(question: str) -> Answer:
            result = await session.elicit_form(
                question, APPROVAL_SCHEMA, related_request_id=request_id
            )
            return Answer(result.action, result.content)

        send = send_form
    return Asking(
        form=form,
        suspend=modern and suspend,
        answers=answers,
        state=params.request_state,
        send=send,
    )


def _approval_request(question: str) -> types.ElicitRequest:
    import mcp_types as types

    return types.ElicitRequest(
        params=types.ElicitRequestFormParams(message=question, requested_schema=APPROVAL_SCHEMA)
    )


def _mcp_tool(spec: ToolSpec) -> types.Tool:
    import mcp_types as types

    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.parameters,
        annotations=types.ToolAnnotations(read_only_hint=spec.read_only),
    )


def _mcp_result(result: ToolResult) -> types.CallToolResult:
    import mcp_types as types

    content: list[types.ContentBlock] = []
    for part in result.content:
        if isinstance(part, TextPart):
            content.append(types.TextContent(text=part.text))
        elif isinstance(part, ImagePart):
            content.append(types.ImageContent(data=part.data_b64, mime_type=part.media_type))
    return types.CallToolResult(content=content, is_error=result.is_error)
