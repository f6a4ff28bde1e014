"""The HTTP plumbing shared by the fake provider servers (stdlib only).

Each server runs a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port by default)
in a daemon thread. Responses close the connection (``Connection: close``);
streams use chunked transfer encoding so a scripted drop is seen by the client
as a broken body, exactly like a proxy cutting a real stream.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from mnemocode.llm.testing.script import Script, ScriptExhaustedError, Turn, TurnSource

FIXED_CREATED = 1_700_000_000


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # keys lower-cased
    body: Any = None  # the parsed JSON body (None for GET)
    raw: bytes = b""
    turn: int | None = None  # which scripted turn answered it (0-based)
    # Time the server spent on this request, from reading the body to the last byte
    # sent (benchmarks subtract it to get the client's own overhead).
    server_seconds: float = 0.0

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict):
            return list(self.body.get("messages", []))
        return []

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "raw": self.raw.decode("utf-8", errors="replace"),
            "server_seconds": self.server_seconds,
        }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeServer) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is part of the tests, not a failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # SSE sends many small writes; with Nagle on, each waits for the client's
    # delayed ACK (~40 ms on loopback) and the client looks slow.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake.handle(self, self._record(None, b""))

    def do_POST(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.send_json(
                400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}
            )
            return
        request = self._record(body, raw)
        try:
            self.server.fake.handle(self, request)
        finally:
            request.server_seconds = time.perf_counter() - started

    def _record(self, body: Any, raw: bytes) -> RecordedRequest:
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RecordedRequest(self.command, self.path, headers, body, raw)

    # ---- writing ----------------------------------------------------------------

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def send_event(self, data: str, event: str | None = None) -> None:
        text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        payload = text.encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        """Cut the connection without finishing the response."""
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class FakeServer:
    """Base of the fake servers: lifecycle, recording and script handling."""

    owner = "FakeServer"

    def __init__(
        self, script: Script, *, model: str = "fake-model", chunks: int = 3, port: int = 0
    ) -> None:
        self.model = model
        self.chunks = chunks
        self.requests: list[RecordedRequest] = []
        # Questions about the server rather than to the model (model lists, the
        # context window) — kept apart so a client's probing does not shift indexes.
        self.metadata_requests: list[RecordedRequest] = []
        self._turns = TurnSource(script, self.owner)
        self._lock = threading.Lock()
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------

    def start(self) -> Self:
        self._httpd = _HTTPServer(("127.0.0.1", self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name=self.owner, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{self.owner} is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def remaining(self) -> int | None:
        return self._turns.remaining

    # ---- requests -------------------------------------------------------------------

    def handle(self, handler: _Handler, request: RecordedRequest) -> None:
        with self._lock:
            if self.is_metadata(request):
                self.metadata_requests.append(request)
            else:
                self.requests.append(request)
        if request.method == "GET" and request.path.rstrip("/").endswith("/_fake/requests"):
            with self._lock:
                handler.send_json(200, [r.to_dict() for r in self.requests[:-1]])
            return
        self.route(handler, request)

    def is_metadata(self, request: RecordedRequest) -> bool:
        return False

    def route(self, handler: _Handler, request: RecordedRequest) -> None:
        raise NotImplementedError

    def next_turn(self, handler: _Handler, request: RecordedRequest) -> Turn | None:
        """The turn for ``request``; on exhaustion answers 400 itself and returns None."""
        try:
            with self._lock:
                request.turn = self._turns.served
                turn = self._turns.next(request)
        except ScriptExhaustedError as exc:
            self.send_error(handler, 400, str(exc), kind="script_exhausted")
            return None
        if turn.delay:
            time.sleep(turn.delay)
        return turn

    def call_id(self, turn_call: Any, prefix: str = "call_") -> str:
        with self._lock:
            return self._turns.call_id(turn_call, prefix)

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
        raise NotImplementedError
