"""A small MCP server for the client's tests (stdio by default).

``--http PORT --token TOKEN``: streamable HTTP on 127.0.0.1, requiring that bearer token.
``--sse PORT``: the legacy HTTP+SSE transport on 127.0.0.1 (``/sse``).
``--fail``: exits at once, with a line on stderr (a server that fails to start).
``--hang``: never answers (a server that does not start in time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server = MCPServer("toy")


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def peek(key: str) -> str:
    """Read a value (marked read-only)."""
    return f"value of {key}"


@server.tool()
def touch(path: str) -> str:
    """Create a file (a tool that changes something)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("touched")
    return f"created {path}"


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "done sleeping"


@server.tool()
def huge(chars: int) -> str:
    """A very long answer."""
    return "x" * chars


@server.tool()
def die() -> str:
    """The process exits in the middle of the call."""
    os._exit(9)


@server.tool()
def pid() -> str:
    """This server's process id."""
    return str(os.getpid())


@server.tool()
def fails() -> str:
    """Always raises."""
    raise ValueError("the toy tool failed on purpose")


@server.tool(description="d" * 5000)
def wordy() -> str:
    return "ok"


class _Verifier:
    def __init__(self, token: str) -> None:
        self.token = token

    async def verify_token(self, token: str):  # type: ignore[no-untyped-def]
        from mcp.server.auth.provider import AccessToken

        if token != self.token:
            return None
        return AccessToken(token=token, client_id="test", scopes=[])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int)
    parser.add_argument("--token")
    parser.add_argument("--sse", type=int)
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    if args.fail:
        print("toy: cannot open the database (on purpose)", file=sys.stderr)
        sys.exit(2)
    if args.hang:
        time.sleep(3600)
    if args.sse:
        server.run("sse", host="127.0.0.1", port=args.sse)
        return
    if args.http:
        from mcp.server.auth.settings import AuthSettings

        url = f"http://127.0.0.1:{args.http}"
        authed = MCPServer(
            "toy-http",
            token_verifier=_Verifier(args.token),
            auth=AuthSettings(issuer_url=url, resource_server_url=f"{url}/mcp"),
        )
        authed.tool()(echo)
        authed.run("streamable-http", host="127.0.0.1", port=args.http)
        return
    server.run()


if __name__ == "__main__":
    main()
