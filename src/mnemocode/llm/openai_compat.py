"""``OpenAICompatModel``: any Chat Completions server through the official ``openai`` SDK.

OpenAI, Ollama, vLLM, llama.cpp, OpenRouter, DeepSeek, MiniMax… The SDK is imported
on the first call, not at import. The SDK's own retries are off (``RetryingModel``
does that). Server quirks handled here:

- a complete JSON answer to a ``stream=true`` request (llama.cpp with tools) is
  detected by its content type and replayed as events;
- stream chunks carrying a whole ``message`` instead of a ``delta`` are accepted;
- tool-call names repeated in every chunk are taken once (see ``StreamAssembler``);
- reasoning arrives as ``reasoning_content`` (DeepSeek) or ``reasoning``
  (OpenRouter, vLLM) and is sent back the same way on the next request;
- a stream that ends without a ``finish_reason`` is cut off (``ModelConnectionError``,
  retried like a dropped connection), not a finished answer;
- ``stream_options`` rejected with a 400 → asked again without it (remembered);
  no usage in the answer → usage estimated with ``tokens.estimate_usage``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import Any

from mnemocode.core.errors import ModelBadRequestError, ModelError, ModelServerError
from mnemocode.core.types import ModelRequest, ResponseDone, StreamEvent
from mnemocode.llm import openai_format as fmt
from mnemocode.llm.base import StreamAssembler
from mnemocode.llm.errors import (
    connection_error,
    cut_off_error,
    error_from_status,
    one_line,
    server_message,
)
from mnemocode.llm.provider import ProviderModel
from mnemocode.llm.tokens import estimate_usage

PLACEHOLDER_KEY = "not-needed"


def is_openai_api(base_url: str | None) -> bool:
    """True for OpenAI's own endpoint (the SDK default when no base URL is set)."""
    return base_url is None or "api.openai.com" in base_url


class OpenAICompatModel(ProviderModel):
    """A ``ChatModel`` on ``POST {base_url}/chat/completions``; ``name`` is the alias."""

    def __init__(self, model_id: str, **settings: Any) -> None:
        settings["api_key"] = settings.get("api_key") or PLACEHOLDER_KEY
        super().__init__(model_id, **settings)
        self.send_stream_options = True
        self._conversions = fmt.ConversionCache()

    def _make_client(self) -> Any:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout
        )

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        """The request body. Stable fields first and ``messages`` last, so each
        request is a byte-identical prefix of the next (prefix caches, and servers
        like llama.cpp that reuse the evaluated prompt, see the longest match)."""
        official = is_openai_api(self.base_url)
        params: dict[str, Any] = {"model": self.model_id, "stream": True}
        if self.send_stream_options:
            params["stream_options"] = {"include_usage": True}
        temperature = request.temperature if request.temperature is not None else self.temperature
        if temperature is not None:
            params["temperature"] = temperature
        max_tokens = request.max_output_tokens or self.max_output_tokens
        if max_tokens:
            params["max_completion_tokens" if official else "max_tokens"] = max_tokens
        if request.tools:
            params["tools"] = fmt.to_tools(request.tools)
            choice = fmt.to_tool_choice(request.tool_choice)
            if choice is not None:
                params["tool_choice"] = choice
        if self.extra_body:
            params["extra_body"] = dict(self.extra_body)
        params["messages"] = fmt.to_messages(
            request, send_reasoning=not official, cache=self._conversions
        )
        return params

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        params = self.request_params(request)
        try:
            async with contextlib.aclosing(self._stream(params, request)) as events:
                async for event in events:
                    yield event
        except ModelBadRequestError as exc:
            if "stream_options" not in params or "stream_options" not in exc.message:
                raise
            # A server that rejects the option outright: ask again without it, and
            # never send it to this server again.
            self.send_stream_options = False
            del params["stream_options"]
            async with contextlib.aclosing(self._stream(params, request)) as events:
                async for event in events:
                    yield event

    async def _stream(
        self, params: dict[str, Any], request: ModelRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        assembler = StreamAssembler()
        assembler.model = self.model_id
        client = self._get_client()
        received = complete = False
        # The SDK's typed create() re-validates every message of the history on each
        # call (tens of ms for a long session); our body is already plain JSON, so we
        # post it through the same client: same auth, errors and SSE decoding.
        from openai import AsyncStream

        body = {k: v for k, v in params.items() if k not in {"extra_body", "messages"}}
        body.update(params.get("extra_body") or {})
        body["messages"] = params["messages"]
        try:
            stream = await client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=AsyncStream[object],
            )
            async with stream:
                if "json" in stream.response.headers.get("content-type", "").lower():
                    # A complete answer although we asked for a stream (llama.cpp with tools).
                    received = complete = True
                    data = json.loads(await stream.response.aread())
                    for event in self._events(data, assembler):
                        yield event
                else:
                    async for chunk in stream:
                        received = True
                        for event in self._events(chunk, assembler):
                            yield event
        except Exception as exc:
            translated = self.translate_error(exc, mid_stream=received)
            if translated is None:
                raise
            raise translated from exc
        if not received:
            raise ModelServerError(f"empty response from {self._where}", model=self.name)
        if not complete and assembler.finish_reason is None:
            # The body ended cleanly but the answer did not (a proxy or server giving
            # up): incomplete, never a finished answer.
            raise cut_off_error(self.name, self._where, "a finish reason")
        response = assembler.finish()
        if not assembler.usage_reported:
            # The server sent no usage (it ignored stream_options): estimate it.
            response.usage = estimate_usage(request, response.message)
        yield ResponseDone(response)

    @property
    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    def _events(self, data: Any, assembler: StreamAssembler) -> Iterator[StreamEvent]:
        """Events from one chunk or one complete response (both are dicts with choices)."""
        if not isinstance(data, dict):
            raise ModelServerError(
                f"unexpected response: {one_line(str(data), 200)}", model=self.name
            )
        if isinstance(data.get("error"), Mapping):
            raise self._body_error(data["error"])
        if data.get("model"):
            assembler.model = str(data["model"])
        if isinstance(data.get("usage"), Mapping):
            assembler.set_usage(fmt.to_usage(data["usage"]))
        for choice in data.get("choices") or []:
            delta = choice.get("delta")
            # A whole message counts only if nothing streamed before it (no duplicates
            # from servers that repeat the full message in the last chunk).
            full = not delta and isinstance(choice.get("message"), Mapping) and assembler.is_empty
            part = choice["message"] if full else delta or {}
            yield from _part_events(part, assembler, full=full)
            if choice.get("finish_reason"):
                assembler.finish_reason = str(choice["finish_reason"])

    def _body_error(self, body: Mapping[str, Any]) -> ModelError:
        code = body.get("code")
        status = (
            int(code)
            if isinstance(code, int) or (isinstance(code, str) and code.isdigit())
            else 500
        )
        kind = body.get("type")
        return error_from_status(
            status,
            server_message(body, "error in stream"),
            model=self.name,
            code=str(code) if code is not None else None,
            kind=str(kind) if kind is not None else None,
        )

    def translate_error(self, exc: Exception, *, mid_stream: bool = False) -> ModelError | None:
        """The core error for an SDK / transport exception (None: not ours to translate)."""
        import httpx2
        import openai

        if isinstance(exc, ModelError):
            return exc
        if isinstance(exc, openai.APIStatusError):
            message = server_message(exc.body, exc.message)
            if exc.status_code == 404:
                message = f"{message} (model id {self.model_id!r} at {self._where})"
            return error_from_status(
                exc.status_code,
                message,
                model=self.name,
                code=exc.code,
                kind=exc.type,
                headers=exc.response.headers,
            )
        if isinstance(exc, openai.APITimeoutError):
            return connection_error(
                self.name, f"timed out after {self.timeout:g}s waiting for {self._where}"
            )
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            what = "lost during the response" if mid_stream else "failed"
            return connection_error(self.name, f"connection to {self._where} {what}", exc)
        if isinstance(exc, openai.APIError):
            return self._body_error(
                exc.body if isinstance(exc.body, Mapping) else {"message": exc.message}
            )
        if isinstance(exc, json.JSONDecodeError):
            return ModelServerError(
                f"malformed response from {self._where}: {exc}", model=self.name
            )
        if isinstance(exc, openai.OpenAIError):
            return ModelError(one_line(str(exc)), model=self.name)
        return None


def _part_events(
    part: Mapping[str, Any], assembler: StreamAssembler, *, full: bool
) -> Iterator[StreamEvent]:
    """Events of one delta, or of a whole ``message`` (``full``: calls indexed by position)."""
    for field in fmt.REASONING_FIELDS:
        value = part.get(field)
        if isinstance(value, str) and value:
            assembler.provider_fields[fmt.REASONING_FIELD_KEY] = field
            reasoning = assembler.reasoning(value)
            if reasoning:
                yield reasoning
            break
    content = part.get("content")
    if isinstance(content, list):  # a few servers send content parts even in deltas
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    if isinstance(content, str):
        text = assembler.text(content)
        if text:
            yield text
    for position, call in enumerate(part.get("tool_calls") or []):
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = json.dumps(arguments)  # Ollama sometimes sends an object
        index = position if full else call.get("index")
        yield assembler.tool_call(
            index,
            id=call.get("id"),
            name=function.get("name"),
            arguments=arguments,
        )
