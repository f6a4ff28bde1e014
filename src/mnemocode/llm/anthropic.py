"""``AnthropicModel``: Claude through the official ``anthropic`` SDK, with prompt caching.

The SDK is imported on the first call; its retries are off (``RetryingModel``
retries). Thinking blocks stream as ``ReasoningDelta`` and are kept, signatures
included, in ``Message.provider_fields["anthropic_thinking"]`` so the next request
sends them back as the API requires.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from mnemocode.core.errors import ModelError, ModelServerError
from mnemocode.core.types import ModelRequest, StreamEvent
from mnemocode.llm import anthropic_format as fmt
from mnemocode.llm.base import StreamAssembler
from mnemocode.llm.errors import (
    connection_error,
    cut_off_error,
    error_from_status,
    one_line,
    server_message,
)
from mnemocode.llm.provider import ProviderModel

DEFAULT_MAX_TOKENS = 8192


class _AnthropicStream:
    """Per-response state: which content block is which."""

    def __init__(self, assembler: StreamAssembler) -> None:
        self.assembler = assembler
        self.tool_index: dict[int, int] = {}  # content block index → tool call index
        self.thinking: dict[int, dict[str, Any]] = {}  # content block index → block

    def events(self, event: Mapping[str, Any]) -> Iterator[StreamEvent]:
        kind = event.get("type")
        asm = self.assembler
        if kind == "message_start":
            message = event.get("message") or {}
            asm.model = str(message.get("model") or asm.model)
            asm.set_usage(fmt.to_usage(message.get("usage") or {}))
        elif kind == "content_block_start":
            yield from self._start(int(event.get("index", 0)), event.get("content_block") or {})
        elif kind == "content_block_delta":
            yield from self._delta(int(event.get("index", 0)), event.get("delta") or {})
        elif kind == "content_block_stop":
            block = self.thinking.pop(int(event.get("index", 0)), None)
            if block is not None:
                asm.provider_fields.setdefault(fmt.THINKING_KEY, []).append(block)
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            if delta.get("stop_reason"):
                asm.finish_reason = str(delta["stop_reason"])
            asm.set_usage(fmt.to_usage(event.get("usage") or {}, asm.usage))

    def _start(self, index: int, block: Mapping[str, Any]) -> Iterator[StreamEvent]:
        kind = block.get("type")
        if kind == "text":
            text = self.assembler.text(block.get("text"))
            if text:
                yield text
        elif kind == "tool_use":
            self.tool_index[index] = len(self.tool_index)
            given = block.get("input")
            arguments = json.dumps(given) if given else None
            yield self.assembler.tool_call(
                self.tool_index[index],
                id=block.get("id"),
                name=block.get("name"),
                arguments=arguments,
            )
        elif kind == "thinking":
            self.thinking[index] = {"type": "thinking", "thinking": "", "signature": ""}
            yield from self._thinking_text(index, block.get("thinking"))
        elif kind == "redacted_thinking":
            self.thinking[index] = {"type": "redacted_thinking", "data": block.get("data", "")}

    def _delta(self, index: int, delta: Mapping[str, Any]) -> Iterator[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = self.assembler.text(delta.get("text"))
            if text:
                yield text
        elif kind == "input_json_delta" and index in self.tool_index:
            yield self.assembler.tool_call(
                self.tool_index[index], arguments=delta.get("partial_json", "")
            )
        elif kind == "thinking_delta":
            yield from self._thinking_text(index, delta.get("thinking"))
        elif kind == "signature_delta" and index in self.thinking:
            self.thinking[index]["signature"] += delta.get("signature", "")

    def _thinking_text(self, index: int, text: str | None) -> Iterator[StreamEvent]:
        if not text:
            return
        if index in self.thinking:
            self.thinking[index]["thinking"] += text
        reasoning = self.assembler.reasoning(text)
        if reasoning:
            yield reasoning


class AnthropicModel(ProviderModel):
    """A ``ChatModel`` on the Anthropic Messages API; ``name`` is the alias."""

    def __init__(self, model_id: str, *, cache_messages: bool = True, **settings: Any) -> None:
        super().__init__(model_id, **settings)
        self.cache_messages = cache_messages

    def _make_client(self) -> Any:
        from anthropic import AsyncAnthropic

        return AsyncAnthropic(
            api_key=self._api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout
        )

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        """The keyword arguments for ``messages.create``."""
        params: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": request.max_output_tokens or self.max_output_tokens or DEFAULT_MAX_TOKENS,
            "messages": fmt.to_messages(request.messages, cache_last=self.cache_messages),
            "stream": True,
        }
        system = fmt.to_system(request)
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = fmt.to_tools(request.tools)
            choice = fmt.to_tool_choice(request.tool_choice)
            if choice is not None:
                params["tool_choice"] = choice
        temperature = request.temperature if request.temperature is not None else self.temperature
        if temperature is not None:
            params["temperature"] = temperature
        if self.extra_body:
            params["extra_body"] = dict(self.extra_body)
        return params

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        params = self.request_params(request)
        assembler = StreamAssembler()
        assembler.model = self.model_id
        state = _AnthropicStream(assembler)
        client = self._get_client()
        finished = started = False
        try:
            response = await client.messages.create(**params)
            async with response:
                async for event in response:
                    started = True
                    data = event.to_dict()
                    finished = finished or data.get("type") == "message_stop"
                    for item in state.events(data):
                        yield item
        except Exception as exc:
            translated = self.translate_error(exc, mid_stream=started)
            if translated is None:
                raise
            raise translated from exc
        if not finished:
            raise cut_off_error(self.name, self._where, "message_stop")
        yield assembler.done()

    @property
    def _where(self) -> str:
        return self.base_url or "api.anthropic.com"

    def translate_error(self, exc: Exception, *, mid_stream: bool = False) -> ModelError | None:
        """The core error for an SDK / transport exception (None: not ours to translate)."""
        import anthropic
        import httpx2

        if isinstance(exc, ModelError):
            return exc
        if isinstance(exc, anthropic.APIStatusError):
            kind = exc.type
            status = exc.status_code
            if status < 400:  # an ``error`` event in a 200 stream
                status = fmt.ERROR_STATUS.get(kind or "", 500)
            message = exc.api_message or server_message(exc.body, exc.message)
            if status == 404:
                message = f"{message} (model id {self.model_id!r} at {self._where})"
            return error_from_status(
                status, message, model=self.name, kind=kind, headers=exc.response.headers
            )
        if isinstance(exc, anthropic.APITimeoutError):
            return connection_error(
                self.name, f"timed out after {self.timeout:g}s waiting for {self._where}"
            )
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            what = "lost during the response" if mid_stream else "failed"
            return connection_error(self.name, f"connection to {self._where} {what}", exc)
        if isinstance(exc, anthropic.APIError | json.JSONDecodeError):
            return ModelServerError(
                f"malformed response from {self._where}: {one_line(str(exc))}", model=self.name
            )
        if isinstance(exc, anthropic.AnthropicError):
            return ModelError(one_line(str(exc)), model=self.name)
        return None
