"""``web_fetch`` (httpx; HTML → readable Markdown) and ``web_search`` (DuckDuckGo via
``ddgs``, or a SearXNG instance). Heavy libraries load on first use."""

from __future__ import annotations

import asyncio
import codecs
import json
from typing import Any

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.tools.base import tool

DEFAULT_MAX_CHARS = 20_000
USER_AGENT = "mnemocode/0.1 (+https://github.com/mnemocode)"


def html_to_markdown(html: str, url: str = "") -> tuple[str, str]:
    """(title, markdown of the main content)."""
    from markdownify import markdownify
    from readability import Document

    doc = Document(html, url=url or None)
    title = (doc.short_title() or "").strip()
    body = markdownify(doc.summary(html_partial=True), heading_style="ATX", strip=["img"])
    lines = [line.rstrip() for line in body.splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return title, text.strip()


async def _download(
    url: str, max_bytes: int, timeout_s: float, transport: Any = None
) -> tuple[str, str, bytes, bool]:
    import httpx

    try:
        async with (
            httpx.AsyncClient(
                follow_redirects=True,
                max_redirects=5,
                timeout=timeout_s,
                headers={"User-Agent": USER_AGENT},
                transport=transport,
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise ToolError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
            chunks: list[bytes] = []
            size, cut = 0, False
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= max_bytes:
                    cut = True
                    break
            content_type = response.headers.get("content-type", "")
            return str(response.url), content_type, b"".join(chunks)[:max_bytes], cut
    except httpx.TooManyRedirects as exc:
        raise ToolError(f"{url}: too many redirects") from exc
    except httpx.TimeoutException as exc:
        raise ToolError(f"{url}: timed out after {timeout_s:g}s") from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"{url}: {type(exc).__name__}: {exc}") from exc


@tool(read_only=True)
async def web_fetch(ctx: ToolContext, url: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Fetch a URL; HTML comes back as readable Markdown.

    Args:
        url: http(s) URL.
        max_chars: Maximum characters to return.
    """
    if not url.startswith(("http://", "https://")):
        raise ToolError("url must start with http:// or https://")
    max_bytes = int(ctx.settings.get("web_fetch_max_bytes") or 2_000_000)
    timeout = float(ctx.settings.get("web_fetch_timeout_s") or 20.0)
    transport = ctx.http_transport() if ctx.http_transport is not None else None
    final_url, content_type, data, cut = await _download(url, max_bytes, timeout, transport)
    mime = content_type.split(";")[0].strip().lower()
    charset = "utf-8"
    if "charset=" in content_type:
        charset = content_type.split("charset=")[1].split(";")[0].strip().strip('"') or "utf-8"
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = "utf-8"  # a server naming a charset that does not exist
    if mime in {"text/html", "application/xhtml+xml"} or (not mime and data.lstrip()[:1] == b"<"):
        html = data.decode(charset, errors="replace")
        title, text = await asyncio.to_thread(html_to_markdown, html, final_url)
        header = f"# {title}\n\n" if title else ""
        text = header + text
    elif (
        mime.startswith("text/")
        or mime in {"application/json", "application/xml", ""}
        or mime.endswith("+json")
    ):
        text = data.decode(charset, errors="replace")
    else:
        return f"{final_url}: {mime or 'unknown type'} ({len(data)} bytes) is not text; not shown."
    notes = []
    if cut:
        notes.append(f"[download stopped at {max_bytes} bytes]")
    if len(text) > max_chars:
        notes.append(f"[showing {max_chars} of {len(text)} characters]")
        text = text[:max_chars]
    source = f"Source: {final_url}\n\n" if final_url != url else ""
    return source + text + ("\n\n" + " ".join(notes) if notes else "")


# ---- search ------------------------------------------------------------------------


def _ddgs_search(query: str, max_results: int, backend: str) -> list[dict[str, Any]]:
    from ddgs import DDGS

    results: list[dict[str, Any]] = DDGS().text(query, max_results=max_results, backend=backend)
    return results


async def _searxng_search(base_url: str, query: str, max_results: int) -> list[dict[str, Any]]:
    import httpx

    async with httpx.AsyncClient(timeout=20, headers={"User-Agent": USER_AGENT}) as client:
        response = await client.get(
            base_url.rstrip("/") + "/search", params={"q": query, "format": "json"}
        )
        response.raise_for_status()
        data = json.loads(response.text)
    return [
        {"title": r.get("title", ""), "href": r.get("url", ""), "body": r.get("content", "")}
        for r in data.get("results", [])[:max_results]
    ]


async def search(backend: str, query: str, max_results: int) -> list[dict[str, Any]]:
    """Backends: ``duckduckgo`` (ddgs, its automatic engine choice), ``ddgs:<engines>``
    (e.g. ``ddgs:brave,bing``), ``searxng:<base url>``."""
    try:
        if backend.startswith("searxng:"):
            return await _searxng_search(backend.removeprefix("searxng:"), query, max_results)
        engines = backend.removeprefix("ddgs:") if backend.startswith("ddgs:") else "auto"
        if backend not in {"duckduckgo", "ddgs", "auto"} and not backend.startswith("ddgs:"):
            raise ToolError(f"unknown web_search_backend {backend!r}")
        return await asyncio.to_thread(_ddgs_search, query, max_results, engines)
    except ToolError:
        raise
    except Exception as exc:  # every engine has its own errors; the model needs one line
        raise ToolError(f"web search failed ({backend}): {type(exc).__name__}: {exc}") from exc


@tool(read_only=True)
async def web_search(ctx: ToolContext, query: str, max_results: int = 5) -> str:
    """Search the web; returns title, URL and snippet per result.

    Args:
        query: Search terms.
        max_results: Number of results (1-20).
    """
    backend = str(ctx.settings.get("web_search_backend") or "duckduckgo")
    results = await search(backend, query, min(max(max_results, 1), 20))
    if not results:
        return f"No results for {query!r}."
    return "\n\n".join(
        f"{i}. {r.get('title', '').strip()}\n   {r.get('href', '')}\n   {r.get('body', '').strip()}"
        for i, r in enumerate(results, 1)
    )
