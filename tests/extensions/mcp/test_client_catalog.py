"""Resources, templates and prompts of real servers through ``McpToolset``: listed
at start, cached for a lazy start, read and fetched through the connection; how
``@server:uri`` is told from ``@path`` and how prompt arguments are read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mnemocode.cli.commands.mcp_prompts import parse_arguments
from mnemocode.cli.mcp_attach import find_references
from mnemocode.extensions.mcp.catalog import Catalog, PromptArgument, PromptInfo
from mnemocode.extensions.mcp.config import ServerSpec
from mnemocode.extensions.mcp.connection import McpServerError
from mnemocode.extensions.mcp.toolset import McpToolset
from tests.extensions.mcp.client_support import toy

CATALOG = str(Path(__file__).parent / "servers" / "catalog.py")


def catalog_spec(**kw: object) -> ServerSpec:
    return ServerSpec(
        "cat", "stdio", "config", "test", command=sys.executable, args=(CATALOG,), **kw
    )  # type: ignore[arg-type]


async def test_catalog_listed_read_and_fetched(tmp_path: Path) -> None:
    ts = McpToolset([catalog_spec(), toy()], workdir=tmp_path)
    try:
        assert await ts.start() == []
        cat = ts.catalog("cat")
        assert [r.uri for r in cat.resources][:2] == ["notes://readme", "notes://big"]
        assert [t.uri_template for t in cat.templates] == ["notes://day/{n}"]
        review = next(p for p in cat.prompts if p.name == "review")
        assert review.usage() == "<path> [focus]"
        assert ts.catalog("toy") == Catalog()  # no resources or prompts: nothing, no error
        assert ts.catalog("nosuch") == Catalog()
        (day,) = await ts.read_resource("cat", "notes://day/3")
        assert day.text == "notes of day 3"
        (dot,) = await ts.read_resource("cat", "img://dot.png")
        assert dot.text is None and dot.mime_type == "image/png" and dot.blob
        with pytest.raises(McpServerError, match="reading notes://nope on MCP server 'cat'"):
            await ts.read_resource("cat", "notes://nope")
        turn = await ts.get_prompt("cat", "review", {"path": "a.py"}, vision=False)
        assert turn.text == "Review a.py, looking for bugs." and turn.images == []
        blind = await ts.get_prompt("cat", "show_dot", {}, vision=False)
        assert blind.images == [] and "[image image/png" in blind.text
    finally:
        await ts.aclose()


async def test_a_lazy_servers_prompts_are_known_before_it_starts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = McpToolset([catalog_spec()], workdir=tmp_path, state_dir=state)
    try:
        await first.start()
    finally:
        await first.aclose()
    lazy = McpToolset([catalog_spec(startup="lazy")], workdir=tmp_path, state_dir=state)
    try:
        await lazy.start()
        connection = lazy.connections["cat"]
        assert connection.status == "stopped"  # not started: the cache answered
        assert {p.name for p in lazy.catalog("cat").prompts} == {"review", "show_dot"}
        turn = await lazy.get_prompt("cat", "review", {"path": "x"}, vision=False)
        assert turn.text.startswith("Review x") and connection.status == "ready"
    finally:
        await lazy.aclose()


def test_a_broken_cache_entry_is_an_empty_catalog() -> None:
    assert Catalog.from_json({"prompts": [{"nameless": 1}]}) == Catalog()
    assert Catalog.from_json("junk") == Catalog()
    prompt = PromptInfo("p", "d", (PromptArgument("a", "", True),))
    kept = Catalog(prompts=(prompt,))
    assert Catalog.from_json(kept.to_json()) == kept


def test_references_are_told_from_paths(tmp_path: Path) -> None:
    (tmp_path / "odd:name:x").write_text("a file")

    def refs(text: str) -> list[tuple[str, str]]:
        return [(r.server, r.uri) for r in find_references(text, {"cat"}, tmp_path)]

    assert refs("see @cat:notes://readme, please") == [("cat", "notes://readme")]
    assert refs("@cat:urn:x and @cat:urn:x again") == [("cat", "urn:x")]
    assert refs("@src/app.py:12 and @a.py") == []  # paths (with a line number)
    assert refs("mail me@cat:notes://x") == []  # inside a word: not a token
    assert refs("@other:demo://x") == [("other", "demo://x")]  # unknown: said, not a path
    assert refs("@odd:name:x") == []  # not a server, no ://: a path
    assert refs('@"cat:notes://with space"') == [("cat", "notes://with space")]


PROMPT = PromptInfo("review", "", (PromptArgument("path", required=True), PromptArgument("focus")))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("a.py", {"path": "a.py"}),
        ("a.py style", {"path": "a.py", "focus": "style"}),
        ("focus=style a.py", {"path": "a.py", "focus": "style"}),
        ("'my file.py' focus='two words'", {"path": "my file.py", "focus": "two words"}),
        ("x=1", {"path": "x=1"}),  # not an argument name: a value
    ],
)
def test_prompt_arguments(typed: str, expected: dict[str, str]) -> None:
    assert parse_arguments(PROMPT, typed) == expected


@pytest.mark.parametrize(
    ("typed", "error"),
    [("", "missing path"), ("focus=x", "missing path"), ("a b c", "too many"), ("'a", "cannot")],
)
def test_bad_prompt_arguments(typed: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_arguments(PROMPT, typed)
