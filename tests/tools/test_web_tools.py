"""web_fetch and web_search against local HTTP servers — never the internet."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.web import web_fetch, web_search

ARTICLE = """<html><head><title>Release notes</title></head><body>
<nav>Home | Blog | Login</nav>
<article><h1>Version 2.0</h1><p>The <b>retry policy</b> now honours Retry-After, so a
rate-limited request waits exactly as long as the server asked before it tries again,
instead of guessing with a fixed delay that is either too short or far too long.</p>
<p>Second paragraph with a <a href="/docs">link</a>: start-up is faster because the
heavy libraries are imported only when a command needs them, and prompts are smaller
because every tool description was rewritten to say only what the model must know.</p>
<ul><li>faster start-up</li><li>smaller prompts</li></ul></article>
<footer>(c) example</footer></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/article":
            self._send(200, "text/html; charset=utf-8", ARTICLE.encode())
        elif url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/article")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/big":
            self._send(200, "text/plain", b"x" * 500_000)
        elif url.path == "/json":
            self._send(200, "application/json", b'{"ok": true}')
        elif url.path == "/image":
            self._send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
        elif url.path == "/search":
            query = parse_qs(url.query)["q"][0]
            results = [
                {
                    "title": f"Result {i} for {query}",
                    "url": f"https://example.org/{i}",
                    "content": f"snippet {i}",
                }
                for i in range(8)
            ]
            self._send(200, "application/json", json.dumps({"results": results}).encode())
        else:
            self._send(404, "text/plain", b"not here")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _ctx(tmp_path: Path, **settings: object) -> ToolContext:
    return ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), settings=dict(settings))


async def _fetch(tmp_path: Path, url: str, **args: object) -> tuple[str, bool]:
    result = await web_fetch.run(ToolCall("1", "web_fetch", {"url": url, **args}), _ctx(tmp_path))
    return result.text, result.is_error


async def test_html_becomes_readable_markdown(site: str, tmp_path: Path) -> None:
    text, is_error = await _fetch(tmp_path, f"{site}/article")
    assert not is_error
    assert text.startswith("# Release notes")
    assert "**retry policy**" in text and "honours Retry-After" in text
    assert "* faster start-up" in text or "- faster start-up" in text
    assert "Login" not in text  # navigation dropped by readability


async def test_redirects_are_followed_and_reported(site: str, tmp_path: Path) -> None:
    text, _ = await _fetch(tmp_path, f"{site}/redirect")
    assert text.startswith(f"Source: {site}/article") and "Version 2.0" in text


async def test_redirect_loop_and_http_errors_are_tool_errors(site: str, tmp_path: Path) -> None:
    text, is_error = await _fetch(tmp_path, f"{site}/loop")
    assert is_error and "too many redirects" in text
    text, is_error = await _fetch(tmp_path, f"{site}/missing")
    assert is_error and "HTTP 404" in text


async def test_size_caps_and_non_text(site: str, tmp_path: Path) -> None:
    text, _ = await _fetch(tmp_path, f"{site}/big", max_chars=1000)
    assert text.startswith("x" * 1000) and "[showing 1000 of 500000 characters]" in text
    text, _ = await _fetch(tmp_path, f"{site}/json")
    assert text == '{"ok": true}'
    text, _ = await _fetch(tmp_path, f"{site}/image")
    assert "image/png" in text and "not text" in text


async def test_unreachable_host_is_a_clear_error(tmp_path: Path) -> None:
    text, is_error = await _fetch(tmp_path, "http://127.0.0.1:9/x")
    assert is_error and "ConnectError" in text


async def test_web_search_with_a_searxng_backend(site: str, tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, web_search_backend=f"searxng:{site}")
    result = await web_search.run(
        ToolCall("1", "web_search", {"query": "mnemo", "max_results": 3}), ctx
    )
    assert not result.is_error
    assert result.text.splitlines()[0] == "1. Result 0 for mnemo"
    assert "https://example.org/2" in result.text and "Result 3" not in result.text


async def test_unknown_search_backend_is_an_error(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, web_search_backend="altavista")
    result = await web_search.run(ToolCall("1", "web_search", {"query": "x"}), ctx)
    assert result.is_error and "unknown web_search_backend" in result.text


async def test_the_safety_transport_refuses_local_addresses(site: str, tmp_path: Path) -> None:
    from functools import partial

    from mnemocode.safety.network import guarded_transport

    ctx = _ctx(tmp_path)
    ctx.http_transport = guarded_transport
    result = await web_fetch.run(ToolCall("1", "web_fetch", {"url": f"{site}/article"}), ctx)
    assert result.is_error and "127.0.0.1" in result.text
    ctx.http_transport = partial(guarded_transport, allow_private=True)
    allowed = await web_fetch.run(ToolCall("2", "web_fetch", {"url": f"{site}/article"}), ctx)
    assert not allowed.is_error and "Version 2.0" in allowed.text
