"""What an MCP server offers besides tools: resources, resource templates and
prompts. Listed once the server is up (and cached with its tools, so a lazy server's
prompts are known before it starts); plus how a read resource and a fetched prompt
become message content.

A server that says it has resources or prompts but fails to list them still serves
its tools: that part of its catalog is empty and ``problem`` says why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mnemocode.core.types import ContentPart, TextPart
from mnemocode.extensions.mcp.results import convert_blocks

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import GetPromptResult, ReadResourceResult

T = TypeVar("T")
_PAGES = 50  # a paginator that never ends cannot hang a start


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    name: str
    uri: str
    mime_type: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    name: str
    uri_template: str
    mime_type: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class PromptArgument:
    name: str
    description: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True)
class PromptInfo:
    name: str
    description: str = ""
    arguments: tuple[PromptArgument, ...] = ()

    def usage(self) -> str:
        """``<required> [optional]``, in the declared order."""
        return " ".join(f"<{a.name}>" if a.required else f"[{a.name}]" for a in self.arguments)


@dataclass(frozen=True, slots=True)
class Catalog:
    resources: tuple[ResourceInfo, ...] = ()
    templates: tuple[TemplateInfo, ...] = ()
    prompts: tuple[PromptInfo, ...] = ()
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["problem"]  # of this start only
        return data

    @classmethod
    def from_json(cls, data: object) -> Catalog:
        """From the cache; anything malformed reads as an empty catalog."""
        if not isinstance(data, Mapping):
            return cls()
        try:
            return cls(
                tuple(ResourceInfo(**r) for r in data.get("resources", [])),
                tuple(TemplateInfo(**t) for t in data.get("templates", [])),
                tuple(
                    PromptInfo(
                        p["name"],
                        p.get("description", ""),
                        tuple(PromptArgument(**a) for a in p.get("arguments", [])),
                    )
                    for p in data.get("prompts", [])
                ),
            )
        except (TypeError, KeyError, AttributeError):
            return cls()


async def list_catalog(client: Client) -> Catalog:
    """Resources, templates and prompts, for what the server says it has."""
    caps = client.server_capabilities
    problems: list[str] = []
    resources: list[ResourceInfo] = []
    templates: list[TemplateInfo] = []
    prompts: list[PromptInfo] = []
    if caps.resources is not None:
        for r in await _pages(problems, "resources", client.list_resources, "resources"):
            resources.append(ResourceInfo(r.name, str(r.uri), r.mime_type or "", _about(r)))
        listed = await _pages(
            problems, "resource templates", client.list_resource_templates, "resource_templates"
        )
        for t in listed:
            templates.append(TemplateInfo(t.name, t.uri_template, t.mime_type or "", _about(t)))
    if caps.prompts is not None:
        for p in await _pages(problems, "prompts", client.list_prompts, "prompts"):
            arguments = tuple(
                PromptArgument(a.name, a.description or "", bool(a.required))
                for a in p.arguments or []
            )
            prompts.append(PromptInfo(p.name, _about(p), arguments))
    return Catalog(tuple(resources), tuple(templates), tuple(prompts), "; ".join(problems))


def _about(item: Any) -> str:
    return str(item.description or item.title or "")


async def _pages(
    problems: list[str], what: str, fetch: Callable[..., Awaitable[Any]], attribute: str
) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    try:
        for _ in range(_PAGES):
            page = await fetch(cursor=cursor)
            items.extend(getattr(page, attribute))
            cursor = page.next_cursor
            if cursor is None:
                break
    except Exception as exc:  # the tools still work without this list
        problems.append(f"listing {what} failed: {exc or type(exc).__name__}")
    return items


# ---- contents -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceContent:
    """One part of a read resource: text, or base64 data."""

    uri: str
    mime_type: str
    text: str | None = None
    blob: str | None = None


def resource_contents(result: ReadResourceResult) -> list[ResourceContent]:
    from mcp_types import BlobResourceContents, TextResourceContents

    found: list[ResourceContent] = []
    for item in result.contents:
        mime = item.mime_type or ""
        if isinstance(item, TextResourceContents):
            found.append(ResourceContent(str(item.uri), mime, text=item.text))
        elif isinstance(item, BlobResourceContents):
            found.append(ResourceContent(str(item.uri), mime, blob=item.blob))
    return found


@dataclass(slots=True)
class PromptTurn:
    """A fetched prompt as one user turn: its text and its images."""

    text: str
    images: list[ContentPart] = field(default_factory=list)


def prompt_turn(result: GetPromptResult, *, vision: bool) -> PromptTurn:
    """Every message of the prompt in order; an assistant message is labelled as
    such (the turn is the user's)."""
    texts: list[str] = []
    images: list[ContentPart] = []
    for message in result.messages:
        for part in convert_blocks([message.content], vision=vision):
            if isinstance(part, TextPart):
                label = "[assistant] " if message.role == "assistant" else ""
                texts.append(label + part.text)
            else:
                images.append(part)
    return PromptTurn("\n\n".join(texts), images)
