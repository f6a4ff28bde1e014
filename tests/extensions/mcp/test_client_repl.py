"""The MCP client in the real REPL (prompt_toolkit pipe input, the scripted model):
/mcp, ``@server:uri`` resources, prompts as slash commands, /context's MCP rows,
completion and the ``s`` answer. The servers are real: the catalog and toy test
servers, and npm's server-everything."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from mnemocode.config.settings import (
    McpConfig,
    McpServerConfig,
    ModelConfig,
    RouterConfig,
    SafetyConfig,
    Settings,
)
from mnemocode.core.types import ImagePart, Message
from mnemocode.llm.testing import text, tool_call
from mnemocode.llm.tokens import count_tokens
from tests.cli.repl_harness import repl_session
from tests.extensions.mcp.client_support import toy_config

CATALOG = str(Path(__file__).parent / "servers" / "catalog.py")


def catalog_config() -> McpServerConfig:
    return McpServerConfig(command=sys.executable, args=[CATALOG])


def everything_config() -> McpServerConfig:
    path = shutil.which("mcp-server-everything")
    assert path, "npm i -g @modelcontextprotocol/server-everything (.ci/run installs it)"
    return McpServerConfig(command=path)


def config(servers: dict[str, McpServerConfig], *, mode: str = "bypass", **kw: Any) -> Settings:
    return Settings(
        models={"t": ModelConfig(model="scripted", vision=kw.pop("vision", False))},
        active_model="t",
        router=RouterConfig(strategy="direct"),
        safety=SafetyConfig(mode=mode),  # type: ignore[arg-type]
        mcp=McpConfig(servers=servers, read_mcp_json=kw.pop("read_mcp_json", False)),
        **kw,
    )


def flat(output: str) -> str:
    """The console output with its line wrapping undone."""
    return " ".join(output.split())


async def started(s: Any) -> None:
    await s.app.start_mcp(lambda _e: None)


def user_messages(requests: list[Any]) -> list[Message]:
    return [m for r in requests for m in r.messages if m.role == "user"]


async def test_mcp_shows_status_tools_catalog_errors_and_restarts(tmp_path: Path) -> None:
    servers = {"cat": catalog_config(), "toy": toy_config(), "bad": toy_config("--fail")}
    async with repl_session(tmp_path, [], config=config(servers)) as s:
        await started(s)
        s.send("/mcp\n")
        await s.wait_for("bad failed")
        await s.wait_for("last error:")
        out = s.output
        assert "cat ready" in out and "toy ready" in out
        assert "tools: mcp__toy__die" in out and "mcp__toy__echo" in out
        assert "resource @cat:notes://readme  readme (text/markdown)" in out
        assert "resource @cat:img://dot.png  dot (image/png)" in out
        assert "template notes://day/{n}  day (text/plain)" in out
        assert "prompt /mcp__cat__review <path> [focus]  Review a file" in out
        assert "cannot open the database (on purpose)" in out.split("bad failed", 1)[1]
        pid_before = s.app.mcp.connections["toy"]  # type: ignore[union-attr]
        assert pid_before.status == "ready"
        s.send("/mcp restart toy\n")
        await s.wait_for("restarted toy: ")
        s.send("/mcp restart nosuch\n")
        await s.wait_for("no MCP server 'nosuch' (known: cat, toy, bad)")
        s.send("/mcp restart bad\n")
        await s.wait_for("MCP server 'bad' failed to start", count=1)
        s.send("/quit\n")
        assert await s.finish() == 0


async def test_a_resource_is_read_and_inlined(tmp_path: Path) -> None:
    script = [text("read it")]
    async with repl_session(tmp_path, script, config=config({"cat": catalog_config()})) as s:
        s.send("what does @cat:notes://readme say?\n")
        await s.wait_for("read it")
        assert "@ @cat:notes://readme: 2 lines inlined" in s.output
    sent = user_messages(s.model.requests)[-1].text
    assert sent.startswith("what does @cat:notes://readme say?")
    assert '<resource server="cat" uri="notes://readme">' in sent
    assert "The launch code is PELICAN-7." in sent


async def test_resources_are_capped_and_binary_is_a_note(tmp_path: Path) -> None:
    settings = config({"cat": catalog_config()})
    settings.tools.attach_max_chars = 1_000
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("file text\n")
    async with repl_session(tmp_path, [text("ok")], config=settings) as s:
        s.send("@cat:notes://big @cat:bin://blob @cat:img://dot.png @notes.txt\n")
        await s.wait_for("ok")
    out = s.output
    assert "@cat:notes://big: cut at 1000 of 50000 characters" in out
    assert "application/octet-stream data (3 bytes), not attached" in out
    assert "image not attached (the current model has no vision)" in out
    assert "notes.txt: not inlined (attachment limit reached)" in out  # one cap for all
    sent = user_messages(s.model.requests)[-1]
    assert sent.text.count("y" * 1000) == 1 and "y" * 1001 not in sent.text
    assert not any(isinstance(p, ImagePart) for p in sent.content)


async def test_an_image_resource_goes_to_a_vision_model_as_an_image(tmp_path: Path) -> None:
    settings = config({"cat": catalog_config()}, vision=True)
    async with repl_session(tmp_path, [text("a dot")], config=settings) as s:
        s.send("look @cat:img://dot.png\n")
        await s.wait_for("a dot")
    sent = user_messages(s.model.requests)[-1]
    images = [p for p in sent.content if isinstance(p, ImagePart)]
    assert len(images) == 1 and images[0].media_type == "image/png"


async def test_a_reference_that_cannot_be_attached_sends_nothing(tmp_path: Path) -> None:
    servers = {"cat": catalog_config(), "bad": toy_config("--fail")}
    async with repl_session(tmp_path, [text("fine")], config=config(servers)) as s:
        s.send("see @cat:notes://broken\n")
        await s.wait_for("the prompt was not sent")
        assert "@cat:notes://broken: reading notes://broken on MCP server 'cat'" in s.output
        s.send("see @nosuch:demo://x\n")
        await s.wait_for("no MCP server 'nosuch' in this session (servers: bad, cat)")
        s.send("see @bad:demo://x\n")
        await s.wait_for("MCP server 'bad' failed to start", count=1)
        assert flat(s.output).count("the prompt was not sent") == 3
        assert s.model.requests == []  # nothing half-built went out
        s.send("and now a plain one\n")  # the session goes on
        await s.wait_for("fine")


async def test_a_server_of_an_untrusted_mcp_json_is_named(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").mkdir()
    planted = tmp_path / "planted"
    spec = {"command": "sh", "args": ["-c", f"touch {planted}"]}
    (work / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": spec}}))
    settings = config({"cat": catalog_config()}, read_mcp_json=True)
    async with repl_session(tmp_path, [], config=settings) as s:
        s.send("read @proj:demo://secret\n")
        await s.wait_for("the prompt was not sent")
        assert "MCP server 'proj' of" in s.output and "this folder is not trusted" in s.output
    assert not planted.exists() and s.model.requests == []


async def test_a_prompt_is_a_slash_command(tmp_path: Path) -> None:
    script = [text("reviewed"), text("again")]
    async with repl_session(tmp_path, script, config=config({"cat": catalog_config()})) as s:
        await started(s)
        s.send("/help\n")
        await s.wait_for("/mcp__cat__review <path> [focus]")
        assert "Review a file (MCP prompt of cat)" in s.output
        s.send("/mcp__cat__review\n")
        await s.wait_for("missing path; usage: /mcp__cat__review <path> [focus] (or name=value)")
        s.send("/mcp__cat__review a.py b c\n")
        await s.wait_for("too many arguments (c)")
        assert s.model.requests == []
        s.send("/mcp__cat__review focus=style 'my file.py'\n")
        await s.wait_for("reviewed")
        s.send("/mcp__cat__review src/x.py\n")
        await s.wait_for("again")
    sent = [m.text for m in user_messages(s.model.requests)]
    assert "Review my file.py, looking for style." in sent
    assert "Review src/x.py, looking for bugs." in sent


async def test_a_prompt_with_an_image_and_a_reply(tmp_path: Path) -> None:
    settings = config({"cat": catalog_config()}, vision=True)
    async with repl_session(tmp_path, [text("seen")], config=settings) as s:
        s.send("/mcp__cat__show_dot\n")
        await s.wait_for("seen")
        assert "/mcp__cat__show_dot: " in s.output and "and 1 image(s) sent" in s.output
    sent = user_messages(s.model.requests)[-1]
    assert sent.text == "Look at this dot:\n\n[assistant] It is a single pixel."
    assert [p.media_type for p in sent.content if isinstance(p, ImagePart)] == ["image/png"]


async def test_everything_server_resources_and_prompts(tmp_path: Path) -> None:
    script = [text("the weather reply"), text("the summary reply")]
    settings = config({"everything": everything_config()})
    async with repl_session(tmp_path, script, config=settings) as s:
        await started(s)
        s.send("/mcp\n")
        await s.wait_for("template demo://resource/dynamic/text/{resourceId}")
        assert "prompt /mcp__everything__args-prompt <city> [state]" in s.output
        s.send("/mcp__everything__args-prompt Paris\n")
        await s.wait_for("the weather reply")
        s.send("summarise @everything:demo://resource/static/document/architecture.md\n")
        await s.wait_for("the summary reply")
    sent = [m.text for m in user_messages(s.model.requests)]
    assert "What's weather in Paris?" in sent[0]
    assert "# Everything Server – Architecture" in sent[-1]


async def test_context_counts_each_servers_schemas(tmp_path: Path) -> None:
    servers = {"cat": catalog_config(), "toy": toy_config()}
    async with repl_session(tmp_path, [], config=config(servers)) as s:
        await started(s)
        s.send("/context\n")
        await s.wait_for("of which MCP, all servers")
    rows = {
        line.strip().split("  ")[0]: line for line in s.output.splitlines() if "of which" in line
    }
    assert "of which MCP toy" in rows and "of which built-in tools" in rows
    assert "of which MCP cat" not in rows  # no tools, no row
    toy_tools = sum(1 for spec in s.app.tool_specs() if spec.name.startswith("mcp__toy__"))
    assert rows["of which MCP toy"].rstrip().endswith(f"{toy_tools} tools")
    tokens = int(rows["of which MCP toy"].split()[4].replace(",", ""))
    schemas = [
        {"name": t.name, "description": t.description, "parameters": t.parameters}
        for t in s.app.tool_specs()
        if t.name.startswith("mcp__toy__")
    ]
    assert tokens == count_tokens(json.dumps(schemas, separators=(",", ":")))


async def test_completion_of_server_resources(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [], config=config({"cat": catalog_config()})) as s:
        await started(s)
        completer = s.repl.session.completer
        assert completer is not None

        def complete(typed: str) -> list[str]:
            found = completer.get_completions(Document(typed), CompleteEvent())
            return [c.text for c in found]

        assert "@cat:" in complete("look at @c")
        assert complete("look at @cat:notes://r") == ["@cat:notes://readme"]
        assert "@cat:img://dot.png" in complete("@cat:")
        assert "/mcp__cat__review" in complete("/mcp__c")


async def test_the_s_answer_saves_a_rule_for_the_whole_server(tmp_path: Path) -> None:
    script = [
        tool_call("mcp__toy__echo", text="one"),
        tool_call("mcp__toy__peek", key="k"),
        text("both ran"),
    ]
    settings = config({"toy": toy_config()}, mode="ask")
    async with repl_session(tmp_path, script, config=settings) as s:
        s.send("go\n")
        await s.wait_for("s yes, always, for every tool of MCP server 'toy'")
        s.send("s")
        await s.wait_for("both ran")
        assert "allowed, and saved as a rule for every tool of this server" in s.output
        assert s.output.count("s yes, always, for every tool") == 1  # peek was not asked
        s.send("/permissions\n")
        await s.wait_for("mcp__toy__*")
    told = [m.text for m in s.model.requests[-1].messages if m.role == "tool"]
    assert told == ["echo: one", "value of k"]
