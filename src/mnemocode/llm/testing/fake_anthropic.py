"""``FakeAnthropicServer``: an Anthropic Messages API (``POST /v1/messages``) replaying turns."""

from __future__ import annotations

import json
from typing import Any

from mnemocode.llm.testing.model import rough_usage
from mnemocode.llm.testing.script import DROP, Script, ScriptedError, Turn, split
from mnemocode.llm.testing.server import FakeServer, RecordedRequest, _Handler

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
MAX_CACHE_BREAKPOINTS = 4


class FakeAnthropicServer(FakeServer):
    """Streams Anthropic SSE events (``message_start`` … ``message_stop``) or JSON.

    Reasoning becomes a ``thinking`` block with a signature, tool calls ``tool_use``
    blocks with ids ``toolu_1``…. With ``strict`` (default) it rejects what the real
    API rejects: empty text blocks, tool results without a matching ``tool_use`` in
    the previous message, unanswered tool uses, more than four ``cache_control``.
    ``base_url`` is the root URL (the SDK appends ``/v1/messages``).
    """

    owner = "FakeAnthropicServer"

    def __init__(
        self,
        script: Script,
        *,
        model: str = "claude-fake",
        chunks: int = 3,
        port: int = 0,
        strict: bool = True,
    ) -> None:
        super().__init__(script, model=model, chunks=chunks, port=port)
        self.strict = strict

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?")[0].endswith("/messages")]

    def route(self, handler: _Handler, request: RecordedRequest) -> None:
        path = request.path.split("?")[0].rstrip("/")
        if request.method == "POST" and path.endswith("/v1/messages"):
            self._messages(handler, request)
        elif request.method == "GET" and path.endswith("/v1/models"):
            handler.send_json(
                200, {"data": [{"id": self.model, "type": "model"}], "has_more": False}
            )
        else:
            self.send_error(handler, 404, f"no route {request.method} {path}")

    def send_error(
        self,
        handler: _Handler,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        body = {
            "type": "error",
            "error": {"type": kind or ERROR_TYPES.get(status, "api_error"), "message": message},
        }
        headers = {"request-id": "req_fake"}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        handler.send_json(status, body, headers)

    def _messages(self, handler: _Handler, request: RecordedRequest) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        problem = validate_messages_body(body) if self.strict else None
        if problem:
            self.send_error(handler, 400, problem)
            return
        turn = self.next_turn(handler, request)
        if turn is None:
            return
        err = turn.http_error()
        stream = bool(body.get("stream"))
        if err is not None and (turn.drop_after is None or not stream):
            if err.status == DROP:
                handler.drop()
            else:
                self.send_error(
                    handler, err.status, err.message, kind=err.type, retry_after=err.retry_after
                )
            return
        blocks = self._blocks(turn)
        usage = self._usage(turn, request)
        if not stream:
            message = self._message_shell(usage)
            content = [{k: v for k, v in b.items() if k != "_raw"} for b in blocks]
            handler.send_json(
                200, {**message, "content": content, "stop_reason": _stop_reason(turn)}
            )
            return
        self._stream(handler, turn, blocks, usage, err)

    def _usage(self, turn: Turn, request: RecordedRequest) -> dict[str, int]:
        usage = turn.usage or rough_usage(len(request.raw), turn)
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        return {
            "input_tokens": max(0, uncached),
            "output_tokens": usage.output_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
        }

    def _blocks(self, turn: Turn) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if turn.reasoning:
            blocks.append({"type": "thinking", "thinking": turn.reasoning, "signature": "sig-fake"})
        if turn.text:
            blocks.append({"type": "text", "text": turn.text})
        for scripted in turn.tool_calls:
            call_id = self.call_id(scripted, "toolu_")
            block = {
                "type": "tool_use",
                "id": call_id,
                "name": scripted.name,
                "input": scripted.arguments,
            }
            blocks.append({**block, "_raw": scripted.arguments_json()})
        return blocks

    def _message_shell(self, usage: dict[str, int]) -> dict[str, Any]:
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }

    def _block_events(self, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
        """``content_block_delta`` events of one block (start and stop are added around)."""
        kind = block["type"]
        if kind == "thinking":
            deltas = [
                {"type": "thinking_delta", "thinking": p}
                for p in split(block["thinking"], self.chunks)
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in split(block["text"], self.chunks)]
        else:
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in split(block["_raw"], self.chunks)
            ]
        return [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]

    def _stream(
        self,
        handler: _Handler,
        turn: Turn,
        blocks: list[dict[str, Any]],
        usage: dict[str, int],
        err: ScriptedError | None,
    ) -> None:
        handler.start_stream()
        start_usage = {**usage, "output_tokens": 1}
        self._send(handler, {"type": "message_start", "message": self._message_shell(start_usage)})
        self._send(handler, {"type": "ping"})
        if turn.cut_after is not None:
            self._stream_cut(handler, blocks, turn.cut_after)
            return
        budget = turn.drop_after
        for index, block in enumerate(blocks):
            start = {
                "type": "content_block_start",
                "index": index,
                "content_block": _empty_block(block),
            }
            self._send(handler, start)
            for event in self._block_events(index, block):
                if budget == 0:
                    self._fail(handler, err)
                    return
                if budget is not None and event["delta"]["type"] != "signature_delta":
                    budget -= 1
                self._send(handler, event)
            self._send(handler, {"type": "content_block_stop", "index": index})
        if budget is not None:
            self._fail(handler, err)
            return
        delta = {"stop_reason": _stop_reason(turn), "stop_sequence": None}
        self._send(
            handler,
            {
                "type": "message_delta",
                "delta": delta,
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
        self._send(handler, {"type": "message_stop"})
        handler.end_stream()

    def _stream_cut(self, handler: _Handler, blocks: list[dict[str, Any]], budget: int) -> None:
        """``budget`` content deltas, then a clean end of the body: no ``message_stop``."""
        for index, block in enumerate(blocks):
            start = {"type": "content_block_start", "index": index}
            self._send(handler, {**start, "content_block": _empty_block(block)})
            for event in self._block_events(index, block):
                if budget == 0:
                    handler.end_stream()
                    return
                budget -= 1
                self._send(handler, event)
            self._send(handler, {"type": "content_block_stop", "index": index})
        handler.end_stream()

    def _send(self, handler: _Handler, event: dict[str, Any]) -> None:
        handler.send_event(json.dumps(event), event=event["type"])

    def _fail(self, handler: _Handler, err: ScriptedError | None) -> None:
        if err is None or err.status == DROP:
            handler.drop()
            return
        kind = err.type or ERROR_TYPES.get(err.status, "api_error")
        self._send(handler, {"type": "error", "error": {"type": kind, "message": err.message}})
        handler.end_stream()


def _stop_reason(turn: Turn) -> str:
    return turn.finish_reason or ("tool_use" if turn.tool_calls else "end_turn")


def _empty_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    if kind == "thinking":
        return {"type": kind, "thinking": "", "signature": ""}
    if kind == "text":
        return {"type": kind, "text": ""}
    return {"type": kind, "id": block["id"], "name": block["name"], "input": {}}


def validate_messages_body(body: dict[str, Any]) -> str | None:
    """What the real Messages API would reject, or None."""
    if not isinstance(body.get("model"), str) or not isinstance(body.get("max_tokens"), int):
        return "model (string) and max_tokens (integer) are required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
        return "messages: must be a non-empty list starting with a user message"
    breakpoints = _count_cache_control(body.get("system")) + _count_cache_control(body.get("tools"))
    pending: set[str] = set()
    for number, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{number}.role: must be user or assistant"
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{number}.content: must be a non-empty string or list"
        breakpoints += _count_cache_control(blocks)
        problem = _check_blocks(blocks, message["role"], pending)
        if problem:
            return f"messages.{number}: {problem}"
        pending = {b["id"] for b in blocks if b.get("type") == "tool_use"}
    if breakpoints > MAX_CACHE_BREAKPOINTS:
        return (
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided."
            f" Found {breakpoints}."
        )
    return None


def _check_blocks(blocks: list[Any], role: str, pending: set[str]) -> str | None:
    answered = {
        b.get("tool_use_id")
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "tool_result"
    }
    if pending and not pending <= answered:
        missing = sorted(pending - answered)
        return f"tool_use ids were found without tool_result blocks immediately after: {missing}"
    if answered - pending:
        return "unexpected tool_use_id in tool_result blocks: each needs a tool_use just before"
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and not block.get("text"):
            return "text content blocks must be non-empty"
        if kind == "image" and (block.get("source") or {}).get("type") != "base64":
            return "image blocks need a base64 source"
        if kind in ("tool_use", "thinking", "redacted_thinking") and role != "assistant":
            return f"{kind} blocks are only allowed in assistant messages"
        if kind == "tool_result" and role != "user":
            return "tool_result blocks are only allowed in user messages"
        if kind not in (
            "text",
            "image",
            "tool_use",
            "tool_result",
            "thinking",
            "redacted_thinking",
        ):
            return f"unknown content block type {kind!r}"
    return None


def _count_cache_control(value: Any) -> int:
    if isinstance(value, dict):
        return int("cache_control" in value) + sum(
            _count_cache_control(v) for k, v in value.items() if k == "content"
        )
    if isinstance(value, list):
        return sum(_count_cache_control(item) for item in value)
    return 0
