"""/help, /status, /clear, /cost, /context, /compact, /end, /resume, /quit, /exit."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from mnemocode.cli.attachments import typed_prompt
from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.cli.commands.strategy import cost_rows
from mnemocode.cli.render import format_cost, format_tokens, one_line
from mnemocode.core.errors import MnemoError
from mnemocode.core.types import ModelRequest

if TYPE_CHECKING:
    from mnemocode.memory.types import SessionInfo

CONTEXT_MESSAGES = 20
RESUME_LIST = 10
RESUME_SHOW = 6

INPUT_HELP = (
    "Enter sends · Alt-Enter, Esc Enter or a trailing \\ adds a line · "
    "@path attaches a file · !cmd runs a shell command · Ctrl-C or Esc stops a turn · "
    "Ctrl-D exits"
)


async def help_command(ctx: ReplContext, arg: str) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for command in ctx.commands.all():
        name = f"/{command.name}" + (f" {command.usage}" if command.usage else "")
        table.add_row(Text(name, style="bold"), command.summary)
    ctx.console.print(table)
    ctx.console.print(Text(INPUT_HELP, style="dim"))


async def status_command(ctx: ReplContext, arg: str) -> None:
    app = ctx.app
    config = app.model_config
    usage = app.agent.totals.usage
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_row("model", f"{app.model_alias} ({config.model}, {config.provider})")
    table.add_row("endpoint", config.base_url or "provider default")
    table.add_row("project", app.project_name)
    table.add_row("cwd", str(app.cwd))
    table.add_row("mode", app.safety.policy.mode)
    files = ", ".join(str(item.path) for item in app.instructions) or "none"
    table.add_row("instructions", files)
    table.add_row("turns", f"{app.agent.turns} ({len(app.agent.history)} messages in history)")
    table.add_row("session", app.session_id)
    table.add_row(
        "tokens",
        f"{format_tokens(usage.input_tokens)} in · {format_tokens(usage.output_tokens)} out",
    )
    table.add_row("cost", format_cost(app.agent.totals.cost_usd))
    ctx.console.print(table)


async def clear_command(ctx: ReplContext, arg: str) -> None:
    ctx.app.clear()
    ctx.shell_notes.clear()
    ctx.console.print(Text("Conversation cleared.", style="dim"))


async def cost_command(ctx: ReplContext, arg: str) -> None:
    totals = ctx.app.agent.totals
    usage = totals.usage
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_row("model calls", str(totals.model_calls))
    table.add_row("input tokens", f"{usage.input_tokens:,}")
    table.add_row("output tokens", f"{usage.output_tokens:,}")
    if usage.cache_read_tokens or usage.cache_write_tokens:
        table.add_row("cache read", f"{usage.cache_read_tokens:,}")
        table.add_row("cache write", f"{usage.cache_write_tokens:,}")
    cost = format_cost(totals.cost_usd)
    if totals.cost_usd is None:
        cost += " (no price known for this model; local models are free)"
    table.add_row("cost", cost)
    ctx.console.print(table)
    by_strategy = cost_rows(ctx.app.router)
    if by_strategy is not None:
        ctx.say("by strategy:", "bold")
        ctx.console.print(by_strategy)


async def end_command(ctx: ReplContext, arg: str) -> None:
    """Save this session to memory now and start a new one."""
    app = ctx.app
    if app.memory is None:
        ctx.say("memory is turned off ([memory] enabled = false); /clear starts afresh", "yellow")
        return
    if app.memory.sessions.count(app.session_id) == 0:
        ctx.say("nothing to save yet: this session has no messages", "dim")
        return
    old = app.session_id
    # new_session queues the old session's summary and extraction; the background
    # worker does them (one line when it is done).
    new = app.new_session()
    ctx.shell_notes.clear()
    app.start_memory_work()
    ctx.say(f"Session {old} ended (saved to memory in the background); new session {new}.", "green")


async def compact_command(ctx: ReplContext, arg: str) -> None:
    agent = ctx.app.agent
    if agent.compactor is None:
        ctx.say("compaction needs memory ([memory] enabled = false)", "yellow")
        return
    before = len(agent.history)
    with ctx.renderer.status("compacting…"):
        removed = await agent.compact(ctx.renderer, force=True)
    if removed:
        ctx.say(
            f"Summarised {removed} of {before} messages; {len(agent.history)} kept verbatim.",
            "green",
        )
    else:
        ctx.say("Nothing was compacted.", "dim")


# ---- /resume -------------------------------------------------------------------------


def _first_words(ctx: ReplContext, info: SessionInfo) -> str:
    if info.title:
        return one_line(info.title, 60)
    assert ctx.app.memory is not None
    first = next((m for m in ctx.app.memory.sessions.messages(info.id) if m.role == "user"), None)
    return one_line(first.text, 60) if first is not None else "(no messages)"


def session_line(ctx: ReplContext, info: SessionInfo) -> str:
    from mnemocode.memory.injection import stamp

    when = stamp(info.updated)
    return f"{info.id[:8]}  {when}  {_first_words(ctx, info)}  ({info.messages} messages)"


async def resume_command(ctx: ReplContext, arg: str) -> None:
    memory = ctx.app.memory
    if memory is None:
        ctx.say("memory is turned off ([memory] enabled = false): no stored sessions", "yellow")
        return
    chosen = await _pick(ctx, arg.strip())
    if chosen is None:
        return
    app = ctx.app
    if chosen.id == app.session_id:
        ctx.say("that is the current session", "dim")
        return
    memory.end_session(app.session_id)  # the current conversation is queued for saving
    try:
        loaded = app.resume(chosen.id)
    except MnemoError as exc:
        ctx.say(f"✗ {exc.one_line()}", "red")
        return
    ctx.shell_notes.clear()
    earlier = ", after a summary of earlier ones" if app.agent.context.summary else ""
    ctx.say(f"Resumed {session_line(ctx, chosen)}: {loaded} messages loaded{earlier}.", "green")
    _show_tail(ctx)


async def _pick(ctx: ReplContext, arg: str) -> SessionInfo | None:
    memory = ctx.app.memory
    assert memory is not None
    if arg:
        found = memory.sessions.find(arg)
        if len(found) == 1:
            return found[0]
        if not found:
            ctx.say(f"no session starts with {arg!r} in {ctx.app.project_name}", "yellow")
            return None
        ctx.say(f"{len(found)} sessions start with {arg!r}; give more of the id:", "yellow")
        for info in found[:RESUME_LIST]:
            ctx.say(f"  {session_line(ctx, info)}")
        return None
    sessions = [s for s in memory.sessions.recent(RESUME_LIST + 1) if s.id != ctx.app.session_id]
    sessions = sessions[:RESUME_LIST]
    if not sessions:
        ctx.say(f"no earlier sessions in {ctx.app.project_name}", "dim")
        return None
    for n, info in enumerate(sessions, 1):
        ctx.say(f"  {n:>2}. {session_line(ctx, info)}")
    ctx.say("Resume which one? (its number; Enter cancels)", "bold")
    answer = await ctx.ask("> ") if ctx.ask else ""
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(sessions):
        return sessions[int(answer) - 1]
    ctx.say("nothing resumed" if not answer else f"not a number from the list: {answer!r}", "dim")
    return None


def _said(ctx: ReplContext) -> list[tuple[str, str]]:
    """``(who, one line)`` of each prompt and answer in the live history."""
    said = []
    for message in ctx.app.agent.history:
        if message.role == "user":
            said.append(("you", typed_prompt(message.text)))
        elif message.role == "assistant" and message.text.strip():
            said.append(("mnemo", " ".join(message.text.split())))
    return [(who, text) for who, text in said if text]


def _show_tail(ctx: ReplContext, count: int = RESUME_SHOW) -> None:
    said = _said(ctx)
    if len(said) > count:
        ctx.say(f"… {len(said) - count} earlier messages", "dim")
    for who, text in said[-count:]:
        ctx.say(f"  {who}: {one_line(text, 90)}")


def show_resumed(ctx: ReplContext) -> None:
    """At start with ``--continue`` / ``--resume ID``: which session, and its last
    exchange."""
    app = ctx.app
    said = _said(ctx)
    last = next((text for who, text in reversed(said) if who == "you"), "")
    turns = f"{app.agent.turns} turn{'s' if app.agent.turns != 1 else ''}"
    line = f"Resumed {app.session_id}: {turns}" + (f", last: {one_line(last, 60)}" if last else "")
    ctx.say(line, "green")
    start = max((i for i, (who, _) in enumerate(said) if who == "you"), default=len(said))
    _show_tail(ctx, max(1, len(said) - start))


async def quit_command(ctx: ReplContext, arg: str) -> None:
    ctx.exit_requested = True


async def context_command(ctx: ReplContext, arg: str) -> None:
    """Exactly what the next request carries, part by part, with token counts."""
    from mnemocode.llm.tokens import REQUEST_OVERHEAD, count_tokens, estimate_request_tokens

    full = arg.strip() == "full"
    app = ctx.app
    context, history = app.agent.context, app.agent.history
    specs = app.tool_specs()
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    texts: list[tuple[str, str]] = []

    def row(label: str, tokens: int, note: str = "") -> None:
        table.add_row(label, f"{tokens:>8,}", Text(note, style="dim"))

    prefix = len(context.prefix.blocks)
    for i, block in enumerate(context.system_blocks()):
        label = _block_label(ctx, i, prefix, block.text)
        row(label, count_tokens(block.text))
        for part, tokens in _prefix_parts(ctx, block.text) if i < prefix else []:
            table.add_row(Text(f"  of which {part}", style="dim"), Text(f"{tokens:>8,}", "dim"))
        texts.append((label, block.text))
    schemas = [
        {"name": t.name, "description": t.description, "parameters": t.parameters} for t in specs
    ]
    row("tool schemas", _schema_tokens(schemas), f"{len(specs)} tools")
    for part, tokens, count in _tool_parts(schemas):
        table.add_row(
            Text(f"  of which {part}", style="dim"),
            Text(f"{tokens:>8,}", "dim"),
            Text(f"{count} tools", style="dim"),
        )
    history_tokens = [
        estimate_request_tokens(ModelRequest([m])) - REQUEST_OVERHEAD for m in history
    ]
    row("history", sum(history_tokens), f"{len(history)} messages")
    total = estimate_request_tokens(context.build(history, specs))
    window = app.agent.slot.context_window
    share = app.settings.memory.compact_at
    table.add_row(Text("total", style="bold"), Text(f"{total:>8,}", style="bold"), "")
    ctx.console.print(table)
    ctx.say(
        f"{total:,} of {window:,} tokens ({total / window:.0%} of the context window); "
        f"compaction at {int(window * share):,} ({share:.0%})"
    )
    shown = list(enumerate(history))
    if not full and len(shown) > CONTEXT_MESSAGES:
        more = len(shown) - CONTEXT_MESSAGES
        ctx.say(f"… {more} earlier messages (/context full shows all)", "dim")
        shown = shown[-CONTEXT_MESSAGES:]
    for i, message in shown:
        what = message.text or ", ".join(c.name for c in message.tool_calls)
        line = f"  {i + 1:>3}. {message.role:<9} {history_tokens[i]:>6,}  "
        ctx.say(line + (what if full else one_line(what, 70)))
    if full:
        for label, text in texts:
            ctx.say(f"──── {label} ────", "bold")
            ctx.say(text)
        for schema in schemas:
            ctx.say(f"──── tool {schema['name']} ────", "bold")
            ctx.say(json.dumps(schema, indent=2, ensure_ascii=False))


def _schema_tokens(schemas: list[dict[str, Any]]) -> int:
    from mnemocode.llm.tokens import count_tokens

    return count_tokens(json.dumps(schemas, separators=(",", ":"))) if schemas else 0


def _tool_parts(schemas: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    """``(part, tokens, tools)``: the built-in tools, each MCP server's, and all MCP
    servers' together; nothing when there are no MCP tools."""
    from mnemocode.extensions.mcp.toolset import server_of

    by_server: dict[str, list[dict[str, Any]]] = {}
    built_in: list[dict[str, Any]] = []
    for schema in schemas:
        server = server_of(schema["name"])
        if server is None:
            built_in.append(schema)
        else:
            by_server.setdefault(server, []).append(schema)
    if not by_server:
        return []
    mcp = [s for group in by_server.values() for s in group]
    parts = [("built-in tools", _schema_tokens(built_in), len(built_in))]
    parts += [(f"MCP {name}", _schema_tokens(g), len(g)) for name, g in sorted(by_server.items())]
    parts.append(("MCP, all servers", _schema_tokens(mcp), len(mcp)))
    return parts


def _block_label(ctx: ReplContext, index: int, prefix: int, text: str) -> str:
    context = ctx.app.agent.context
    if index < prefix:
        return "system prompt + instructions + memory"
    if context.recent and text == context.recent:
        return "recent sessions"
    if context.summary and text == context.summary:
        return "compaction summary"
    return "extra system block"


def _prefix_parts(ctx: ReplContext, text: str) -> list[tuple[str, int]]:
    """What the prefix is made of: instruction files and the memory layers."""
    from mnemocode.llm.tokens import count_tokens

    parts = [
        (str(item.path.name), count_tokens(item.text))
        for item in ctx.app.instructions
        if item.text in text
    ]
    skills = ctx.app.skills
    if skills is not None:
        from mnemocode.extensions.skills.prompt import HEADER

        listing = text[text.find(HEADER) :].split("\n\n", 1)[0] if HEADER in text else ""
        if listing:
            parts.append(("skills (names and descriptions)", count_tokens(listing)))
    memory = ctx.app.memory
    if memory is not None:
        for section in memory.prefix_sections():
            if section.text and section.text in text:
                parts.append((f"{section.layer} memory", section.tokens))
    return parts


COMMANDS = [
    SlashCommand("help", "list commands and input keys", help_command),
    SlashCommand("status", "model, endpoint, mode, instructions, tokens", status_command),
    SlashCommand("clear", "start a fresh conversation", clear_command),
    SlashCommand("cost", "tokens and cost of this session", cost_command),
    SlashCommand(
        "context", "what the model gets now, with token counts", context_command, "[full]"
    ),
    SlashCommand("compact", "summarise the older part of the conversation now", compact_command),
    SlashCommand("end", "save this session to memory now and start a new one", end_command),
    SlashCommand("resume", "continue an earlier session of this project", resume_command, "[id]"),
    SlashCommand("quit", "leave mnemo", quit_command),
    SlashCommand("exit", "leave mnemo", quit_command),
]
