"""OAuth for remote MCP servers, through the SDK's ``OAuthClientProvider``
(authorization code + PKCE; dynamic client registration where the server offers it).

A session never waits on a browser: it reuses the login stored in
``~/.mnemo/mcp-oauth/<server>.json`` (mode 0600, written atomically), refreshing
the access token when it has expired. A server that wants a login it cannot get
that way fails to start with ``LoginRequiredError``, which says to run
``mnemo mcp login NAME``: that command opens the browser (or prints the URL) and
receives the redirect on a 127.0.0.1 callback port.

The port is kept in the file: the server registered the client with that exact
redirect URI, so the next login binds the same port (a new port means a new
registration).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from mnemocode.core.errors import MnemoError
from mnemocode.extensions.mcp.config import ServerSpec

if TYPE_CHECKING:
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

LOGIN_TIMEOUT_S = 300.0
_CALLBACK_PATH = "/callback"
_QUIET = logging.NullHandler()


class OAuthLoginError(MnemoError):
    """A login did not complete (refused, no answer from the browser, server error)."""


class LoginRequiredError(MnemoError):
    """The server wants an OAuth login this session cannot do by itself."""


class TokenFile:
    """The SDK's ``TokenStorage`` as one JSON file per server: tokens (with the
    moment the access token expires, which the SDK keeps only in memory), the
    registered client, and the callback port it was registered with."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable: as if never logged in (a login rewrites it)
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        # Created 0600 from the start: the token is never readable by others, even briefly.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(tmp, self.path)

    def update(self, **values: Any) -> None:
        self.write({**self.read(), **values})

    def expires_at(self) -> float | None:
        value = self.read().get("expires_at")
        return float(value) if isinstance(value, int | float) else None

    def port(self) -> int | None:
        value = self.read().get("redirect_port")
        return value if isinstance(value, int) else None

    async def get_tokens(self) -> OAuthToken | None:
        from mcp.shared.auth import OAuthToken

        raw = self.read().get("tokens")
        return OAuthToken.model_validate(raw) if isinstance(raw, dict) else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        expires = time.time() + tokens.expires_in if tokens.expires_in else None
        self.update(tokens=tokens.model_dump(mode="json", exclude_none=True), expires_at=expires)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        from mcp.shared.auth import OAuthClientInformationFull

        raw = self.read().get("client")
        return OAuthClientInformationFull.model_validate(raw) if isinstance(raw, dict) else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.update(client=client_info.model_dump(mode="json", exclude_none=True))

    def forget_tokens(self) -> None:
        data = self.read()
        if data.pop("tokens", None) is not None:
            data.pop("expires_at", None)
            self.write(data)


def session_auth(spec: ServerSpec, path: Path) -> OAuthClientProvider:
    """The auth of a session's connection: stored tokens, refreshed when expired;
    a needed login is ``LoginRequiredError``."""
    store = TokenFile(path)
    had_login = bool(store.read().get("tokens"))

    async def no_browser(_url: str) -> None:
        why = " (its stored login was refused: expired or revoked)" if had_login else ""
        raise LoginRequiredError(
            f"MCP server {spec.name!r} needs an OAuth login{why}: run `mnemo mcp login {spec.name}`"
        )

    async def no_callback() -> AuthorizationCodeResult:
        raise AssertionError("not reached: the redirect step raises first")

    port = store.port() or 0
    return _provider(spec, store, port, no_browser, no_callback)


def _provider(
    spec: ServerSpec,
    store: TokenFile,
    port: int,
    redirect: Callable[[str], Awaitable[None]],
    callback: Callable[[], Awaitable[AuthorizationCodeResult]],
) -> OAuthClientProvider:
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata
    from pydantic import AnyUrl

    # The SDK logs each failed flow with its traceback; our error says it in one line.
    logging.getLogger("mcp.client.auth").addHandler(_QUIET)

    class StoredExpiry(OAuthClientProvider):
        # The SDK loads stored tokens without their expiry (it keeps that in memory
        # only), so an expired token would be sent, refused, and cost a new login
        # instead of a refresh.
        async def _initialize(self) -> None:
            await super()._initialize()
            self.context.token_expiry_time = store.expires_at()

    metadata = OAuthClientMetadata(
        client_name="mnemo",
        redirect_uris=[AnyUrl(f"http://127.0.0.1:{port}{_CALLBACK_PATH}")],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return StoredExpiry(
        server_url=spec.url,
        client_metadata=metadata,
        storage=store,
        redirect_handler=redirect,
        callback_handler=callback,
    )


async def login(
    spec: ServerSpec,
    path: Path,
    *,
    show_url: Callable[[str], None],
    timeout_s: float = LOGIN_TIMEOUT_S,
) -> int:
    """Log in to one server (the browser step through ``show_url``), store the
    tokens, and connect once with them: the number of tools it offers."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    store = TokenFile(path)
    store.forget_tokens()  # a login asked for is a new login
    async with _callback_server(store.port()) as (port, code):
        if port != store.port():
            # The registration is bound to its redirect URI: a new port, a new client.
            data = store.read()
            data.pop("client", None)
            store.write({**data, "redirect_port": port})

        async def redirect(url: str) -> None:
            show_url(url)

        async def callback() -> AuthorizationCodeResult:
            try:
                async with asyncio.timeout(timeout_s):
                    return await code
            except TimeoutError:
                raise OAuthLoginError(
                    f"no answer from the browser within {timeout_s:g} s; the login was given up"
                ) from None

        auth = _provider(spec, store, port, redirect, callback)
        http = create_mcp_http_client(headers=dict(spec.headers) or None, auth=auth)
        try:
            async with (
                http,
                Client(streamable_http_client(spec.url, http_client=http), cache=None) as client,
            ):
                return len((await client.list_tools()).tools)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the SDK raises groups; the reason is inside
            why = _leaf_reason(exc)
            raise OAuthLoginError(f"login to MCP server {spec.name!r}: {why}") from exc


def logout(path: Path) -> bool:
    """Forget the stored login (the server's record of it stays until it expires)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


@contextlib.asynccontextmanager
async def _callback_server(
    port: int | None,
) -> AsyncIterator[tuple[int, asyncio.Future[AuthorizationCodeResult]]]:
    """A one-shot HTTP listener on 127.0.0.1 for the authorization redirect; the
    stored port when it is free, else any."""
    from mcp.shared.auth import AuthorizationCodeResult

    got: asyncio.Future[AuthorizationCodeResult] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.split()
            target = urlsplit(parts[1]) if len(parts) >= 2 else urlsplit("/")
            query = {k: v[0] for k, v in parse_qs(target.query).items()}
            if target.path != _CALLBACK_PATH or not ("code" in query or "error" in query):
                body, status = "Not the login callback.", "404 Not Found"
            else:
                ok = "code" in query
                body = "Logged in; you can close this tab." if ok else "The login was refused."
                status = "200 OK" if ok else "400 Bad Request"
                if not got.done():
                    if ok:
                        got.set_result(
                            AuthorizationCodeResult(
                                code=query["code"], state=query.get("state"), iss=query.get("iss")
                            )
                        )
                    else:
                        why = query.get("error_description") or query["error"]
                        got.set_exception(OAuthLoginError(f"the login was refused: {why}"))
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        finally:
            writer.close()

    try:
        server = await asyncio.start_server(handle, "127.0.0.1", port or 0)
    except OSError:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], got
    finally:
        server.close()
        await server.wait_closed()


def _leaf_reason(exc: BaseException) -> str:
    """The innermost errors of an exception group, in words."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(dict.fromkeys(_leaf_reason(e) for e in exc.exceptions))
    if isinstance(exc, MnemoError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
