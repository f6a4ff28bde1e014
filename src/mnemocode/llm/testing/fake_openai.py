"""``FakeOpenAIServer``: an OpenAI-compatible ``/v1/chat/completions`` that replays turns."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from mnemocode.llm.testing.model import rough_usage
from mnemocode.llm.testing.script import DROP, Script, ScriptedError, Turn, split
from mnemocode.llm.testing.server import FIXED_CREATED, FakeServer, RecordedRequest, _Handler

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}
_ERROR_TYPES |= {404: "not_found_error", 429: "rate_limit_exceeded"}


@dataclass(frozen=True, slots=True)
class OpenAIQuirks:
    """Behaviours of real OpenAI-compatible servers the adapter must survive."""

    repeat_tool_names: bool = False  # llama.cpp: id and name in every tool-call chunk
    no_stream_with_tools: bool = False  # llama.cpp: a JSON answer to stream=true with tools
    reject_null_content: bool = False  # llama.cpp: 400 when an assistant content is null
    full_message_chunk: bool = False  # one stream chunk carrying a whole "message"
    ignore_stream_options: bool = False  # never sends the usage chunk
    reject_stream_options: bool = False  # 400 when stream_options is sent
    reasoning_field: str = "reasoning_content"  # "reasoning" for OpenRouter / vLLM

    @classmethod
    def llama_cpp(cls) -> OpenAIQuirks:
        return cls(repeat_tool_names=True, no_stream_with_tools=True, reject_null_content=True)

    @classmethod
    def named(cls, names: list[str]) -> OpenAIQuirks:
        """From CLI names such as ``llama-cpp`` or ``repeat-tool-names``."""
        if "llama-cpp" in names:
            base = cls.llama_cpp()
            names = [n for n in names if n != "llama-cpp"]
        else:
            base = cls()
        known = {f.name for f in dataclasses.fields(cls) if f.type == "bool"}
        flags: dict[str, Any] = {n.replace("-", "_"): True for n in names}
        unknown = sorted(set(flags) - known)
        if unknown:
            raise ValueError(
                f"unknown quirk(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return dataclasses.replace(base, **flags)


WINDOW_STYLES = ("llama.cpp", "ollama", "vllm", "openrouter")


class FakeOpenAIServer(FakeServer):
    """Serves ``POST /v1/chat/completions`` (streamed or not) and ``GET /v1/models``.

    ``script`` is a list of turns or a function of the ``RecordedRequest``. With
    ``strict`` (default) malformed requests — null tool-call ids, tool results with
    no matching call, wrong part types — get a 400, as a picky server would.
    Use as a context manager; ``base_url`` is what the SDK wants.

    ``context_window`` with ``window_style`` says the window the way that server
    does: ``llama.cpp`` (``GET /props``), ``ollama`` (``POST /api/show``: ``num_ctx``
    in ``parameters``, and a larger trained ``context_length``), ``vllm``
    (``max_model_len`` in ``/v1/models``), ``openrouter`` (``context_length`` there).
    Those questions are recorded in ``metadata_requests``, not ``requests``.
    """

    owner = "FakeOpenAIServer"

    def __init__(
        self,
        script: Script,
        *,
        model: str = "fake-model",
        quirks: OpenAIQuirks | None = None,
        chunks: int = 3,
        port: int = 0,
        strict: bool = True,
        context_window: int | None = None,
        window_style: str = "llama.cpp",
    ) -> None:
        super().__init__(script, model=model, chunks=chunks, port=port)
        if window_style not in WINDOW_STYLES:
            raise ValueError(f"window_style must be one of {', '.join(WINDOW_STYLES)}")
        self.quirks = quirks or OpenAIQuirks()
        self.strict = strict
        self.context_window = context_window
        self.window_style = window_style

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def is_metadata(self, request: RecordedRequest) -> bool:
        path = request.path.split("?")[0].rstrip("/")
        return (request.method, path.rsplit("/", 1)[-1]) in {
            ("GET", "models"),
            ("GET", "props"),
            ("POST", "show"),
        }

    def route(self, handler: _Handler, request: RecordedRequest) -> None:
        path = request.path.split("?")[0].rstrip("/")
        window, style = self.context_window, self.window_style
        if request.method == "GET" and path.endswith("/models"):
            entry: dict[str, Any] = {"id": self.model, "object": "model"}
            if window and style in ("vllm", "openrouter"):
                entry["max_model_len" if style == "vllm" else "context_length"] = window
            handler.send_json(200, {"object": "list", "data": [entry]})
        elif request.method == "POST" and path.endswith("/chat/completions"):
            self._chat(handler, request)
        elif request.method == "GET" and path == "/props" and window and style == "llama.cpp":
            settings = {"n_ctx": window, "n_predict": -1, "temperature": 0.8}
            handler.send_json(200, {"default_generation_settings": settings, "total_slots": 1})
        elif request.method == "POST" and path == "/api/show" and window and style == "ollama":
            info = {"general.architecture": "qwen2", "qwen2.context_length": window * 8}
            params = f'num_ctx                        {window}\nstop "<|im_end|>"'
            handler.send_json(200, {"parameters": params, "model_info": info})
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
        default_kind = _ERROR_TYPES.get(status, "server_error")
        body = {
            "error": {"message": message, "type": kind or default_kind, "param": None, "code": code}
        }
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        handler.send_json(status, body, headers)

    def _send_scripted_error(self, handler: _Handler, err: ScriptedError) -> None:
        if err.status == DROP:
            handler.drop()
        else:
            self.send_error(
                handler,
                err.status,
                err.message,
                kind=err.type,
                code=err.code,
                retry_after=err.retry_after,
            )

    def _chat(self, handler: _Handler, request: RecordedRequest) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        problem = quirk_rejection(body, self.quirks)
        if problem is None and self.strict:
            problem = validate_chat_body(body)
        if problem:
            self.send_error(handler, 400, problem)
            return
        turn = self.next_turn(handler, request)
        if turn is None:
            return
        err = turn.http_error()
        wants_stream = bool(body.get("stream"))
        tools_auto = bool(body.get("tools")) and body.get("tool_choice", "auto") == "auto"
        if self.quirks.no_stream_with_tools and tools_auto:
            wants_stream = False
        if err is not None and (turn.drop_after is None or not wants_stream):
            self._send_scripted_error(handler, err)
            return
        calls = [(self.call_id(c), c) for c in turn.tool_calls]
        usage = self._usage(turn, request)
        if not wants_stream:
            handler.send_json(200, self._completion(turn, calls, usage))
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self._stream(handler, turn, calls, usage if include_usage else None, err)

    def _usage(self, turn: Turn, request: RecordedRequest) -> dict[str, Any]:
        usage = turn.usage or rough_usage(len(request.raw), turn)
        return {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        }

    def _finish_reason(self, turn: Turn) -> str:
        return turn.finish_reason or ("tool_calls" if turn.tool_calls else "stop")

    def _message(self, turn: Turn, calls: list[tuple[str, Any]]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
        if turn.reasoning:
            message[self.quirks.reasoning_field] = turn.reasoning
        if calls:
            message["tool_calls"] = [
                {
                    "id": cid,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json()},
                }
                for cid, c in calls
            ]
        return message

    def _completion(
        self, turn: Turn, calls: list[tuple[str, Any]], usage: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": FIXED_CREATED,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": self._message(turn, calls),
                    "finish_reason": self._finish_reason(turn),
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }

    def _deltas(self, turn: Turn, calls: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        deltas: list[dict[str, Any]] = []
        deltas += [{self.quirks.reasoning_field: p} for p in split(turn.reasoning, self.chunks)]
        deltas += [{"content": p} for p in split(turn.text, self.chunks)]
        for index, (cid, scripted) in enumerate(calls):
            head = {"index": index, "id": cid, "type": "function"}
            deltas.append(
                {"tool_calls": [{**head, "function": {"name": scripted.name, "arguments": ""}}]}
            )
            for piece in split(scripted.arguments_json(), self.chunks):
                fragment: dict[str, Any] = {"index": index, "function": {"arguments": piece}}
                if self.quirks.repeat_tool_names:
                    fragment = {**head, "function": {"name": scripted.name, "arguments": piece}}
                deltas.append({"tool_calls": [fragment]})
        return deltas

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, key: str = "delta") -> str:
        choice = {"index": 0, key: delta, "finish_reason": finish, "logprobs": None}
        return json.dumps(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": FIXED_CREATED,
                "model": self.model,
                "choices": [choice],
            }
        )

    def _stream(
        self,
        handler: _Handler,
        turn: Turn,
        calls: list[tuple[str, Any]],
        usage: dict[str, Any] | None,
        err: ScriptedError | None,
    ) -> None:
        handler.start_stream()
        if self.quirks.full_message_chunk and turn.drop_after is None and turn.cut_after is None:
            handler.send_event(
                self._chunk(self._message(turn, calls), self._finish_reason(turn), "message")
            )
        else:
            handler.send_event(self._chunk({"role": "assistant", "content": ""}))
            for number, delta in enumerate(self._deltas(turn, calls)):
                if number == turn.drop_after:
                    self._fail_stream(handler, err)
                    return
                if number == turn.cut_after:
                    break
                handler.send_event(self._chunk(delta))
            if turn.drop_after is not None:
                self._fail_stream(handler, err)
                return
            if turn.cut_after is not None:
                handler.end_stream()  # a clean end: no finish_reason, no [DONE]
                return
            handler.send_event(self._chunk({}, self._finish_reason(turn)))
        if usage is not None and not self.quirks.ignore_stream_options:
            stats = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": FIXED_CREATED,
            }
            handler.send_event(
                json.dumps({**stats, "model": self.model, "choices": [], "usage": usage})
            )
        handler.send_event("[DONE]")
        handler.end_stream()

    def _fail_stream(self, handler: _Handler, err: ScriptedError | None) -> None:
        if err is None or err.status == DROP:
            handler.drop()
            return
        kind = err.type or _ERROR_TYPES.get(err.status, "server_error")
        payload = {"error": {"message": err.message, "type": kind, "code": err.code or err.status}}
        handler.send_event(json.dumps(payload))
        handler.end_stream()


def quirk_rejection(body: dict[str, Any], quirks: OpenAIQuirks) -> str | None:
    """What a quirky server (llama.cpp, old proxies) rejects that OpenAI accepts."""
    if quirks.reject_stream_options and "stream_options" in body:
        return "Unrecognized request argument supplied: stream_options"
    if quirks.reject_null_content:
        for message in body.get("messages") or []:
            if (
                isinstance(message, dict)
                and message.get("role") == "assistant"
                and message.get("content") is None
            ):
                return "Expected 'content' to be a string or an array (got null)"
    return None


def validate_chat_body(body: dict[str, Any]) -> str | None:
    """What a strict server would reject in a chat request, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' must be a non-empty string"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    known_calls: set[str] = set()
    for number, message in enumerate(messages):
        problem = _validate_message(message, known_calls)
        if problem:
            return f"messages[{number}]: {problem}"
    return None


def _validate_message(message: Any, known_calls: set[str]) -> str | None:
    if not isinstance(message, dict):
        return "not an object"
    role, content = message.get("role"), message.get("content")
    if role == "assistant":
        return _validate_tool_calls(message.get("tool_calls") or [], known_calls)
    if role == "tool":
        if message.get("tool_call_id") not in known_calls:
            call_id = message.get("tool_call_id")
            return f"tool_call_id {call_id!r} does not match an earlier tool call"
        return None if isinstance(content, str) else "tool content must be a string"
    if role not in ("system", "developer", "user"):
        return f"unknown role {role!r}"
    return _validate_parts(content, role)


def _validate_tool_calls(calls: list[Any], known_calls: set[str]) -> str | None:
    for call in calls:
        fn = call.get("function") or {}
        if (
            not call.get("id")
            or call.get("type") != "function"
            or not isinstance(fn.get("name"), str)
        ):
            return "tool_calls entries need id, type 'function' and function.name"
        if not isinstance(fn.get("arguments"), str):
            return "function.arguments must be a string"
        known_calls.add(call["id"])
    return None


def _validate_parts(content: Any, role: str) -> str | None:
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return "content must be a string or a list of parts"
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image_url" and role == "user":
            if not str((part.get("image_url") or {}).get("url", "")).startswith("data:"):
                return "image_url.url must be a data URL here"
        elif kind != "text":
            return f"unsupported content part {kind!r} for role {role}"
    return None
