"""An MCP server with resources and prompts for the client's tests (stdio).

Resources: a text note, a long text, a PNG image, an opaque blob, one that fails
to read, and a template. Prompts: ``review`` (a required and an optional
argument, in that order) and ``show_dot`` (text, an image, an assistant reply).
"""

from __future__ import annotations

import base64

from mcp.server.mcpserver import AssistantMessage, Image, MCPServer, UserMessage

# A 1x1 PNG.
DOT = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

server = MCPServer("catalog")


@server.resource("notes://readme", name="readme", mime_type="text/markdown")
def readme() -> str:
    return "# Readme\nThe launch code is PELICAN-7.\n"


@server.resource("notes://big", name="big", mime_type="text/plain")
def big() -> str:
    return "y" * 50_000


@server.resource("img://dot.png", name="dot", mime_type="image/png")
def dot() -> bytes:
    return DOT


@server.resource("bin://blob", name="blob", mime_type="application/octet-stream")
def blob() -> bytes:
    return b"\x00\x01\x02"


@server.resource("notes://broken", name="broken", mime_type="text/plain")
def broken() -> str:
    raise ValueError("the disk is on fire (on purpose)")


@server.resource("notes://day/{n}", name="day", mime_type="text/plain")
def day(n: str) -> str:
    return f"notes of day {n}"


@server.prompt(description="Review a file")
def review(path: str, focus: str = "bugs") -> str:
    return f"Review {path}, looking for {focus}."


@server.prompt(description="A picture and a reply")
def show_dot() -> list[UserMessage | AssistantMessage]:
    return [
        UserMessage("Look at this dot:"),
        UserMessage(Image(data=DOT, format="png")),
        AssistantMessage("It is a single pixel."),
    ]


if __name__ == "__main__":
    server.run()
