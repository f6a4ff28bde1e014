"""Safety commands: /auto, /safety, /template, /permissions, /undo, /rewind,
/rollback, /history."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from mnemocode.cli.attachments import typed_prompt
from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.cli.commands.trust import trust_lines, trust_subcommand
from mnemocode.cli.render import one_line
from mnemocode.core.errors import MnemoError

TEMPLATE = """\
Goal: {goal}
Context: what exists today, where the relevant code lives, links or files to read.
Acceptance criteria:
  - observable result 1 (e.g. `mytool export --json` prints valid JSON)
  - observable result 2
Constraints: what must not change (public API, dependencies, files outside src/).
Verify with: the exact command that proves it works (e.g. `pytest -q tests/test_export.py`).
"""


def _say(ctx: ReplContext, text: str, style: str = "") -> None:
    ctx.console.print(Text(text, style=style))


async def auto_command(ctx: ReplContext, arg: str) -> None:
    safety = ctx.app.safety
    words = arg.split()
    if not words:
        _say(ctx, f"mode: {safety.policy.mode}. /auto on | off | whitelist list|add|remove|reset")
        return
    if words[0] in {"on", "off"}:
        ctx.app.set_mode("auto" if words[0] == "on" else "ask")
        _say(ctx, f"mode: {safety.policy.mode} — {safety.sandbox.describe()}", "bold")
        if safety.sandbox.fallback_note:
            _say(ctx, safety.sandbox.fallback_note, "yellow")
        return
    if words[0] != "whitelist":
        _say(
            ctx,
            "usage: /auto on | off | whitelist list|add <command> [*]|remove <command>|reset",
            "yellow",
        )
        return
    action, rest = (words[1] if len(words) > 1 else "list"), _unquoted(" ".join(words[2:]))
    rules = safety.rules
    try:
        if action == "add":
            _say(ctx, f"added: {rules.whitelist_add(rest)}")
        elif action == "remove":
            if not rules.whitelist_remove(rest):
                _say(ctx, f"{rest!r} is not on the whitelist", "yellow")
        elif action == "reset":
            rules.whitelist_reset()
        elif action != "list":
            raise ValueError(f"unknown whitelist action {action!r}")
    except ValueError as exc:
        _say(ctx, str(exc), "yellow")
        return
    _say(ctx, "auto-mode whitelist (built-in entries check their flags; yours are exact,")
    _say(ctx, "a trailing * takes any further arguments):")
    for shown in rules.whitelist_shown():
        _say(ctx, f"  {shown}")


def _unquoted(text: str) -> str:
    """`/auto whitelist add "npm run e2e *"`: the command inside the quotes."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


async def safety_command(ctx: ReplContext, arg: str) -> None:
    if arg == "off":
        _say(ctx, "Turn safety checks off for this session? Type yes to confirm.", "bold yellow")
        answer = await ctx.ask("> ") if ctx.ask else ""
        if answer.strip().lower() != "yes":
            _say(ctx, "safety stays on")
            return
        ctx.app.set_mode("bypass")
        _say(ctx, "safety checks are OFF for this session (protected paths still ask)", "bold red")
    elif arg == "on":
        ctx.app.set_mode("ask")
        _say(ctx, "safety checks are on (mode ask)", "bold")
    else:
        _say(ctx, f"mode: {ctx.app.safety.policy.mode}. /safety off | on")


async def template_command(ctx: ReplContext, arg: str) -> None:
    _say(ctx, TEMPLATE.format(goal=arg or "one sentence: what should be true when this is done"))


async def permissions_command(ctx: ReplContext, arg: str) -> None:
    rules = ctx.app.safety.rules
    words = arg.split()
    if words[:1] == ["trust"]:
        _say(ctx, trust_subcommand(ctx.app.cwd, ctx.app.home, words[1:]))
        return
    if words[:1] == ["remove"] and len(words) == 2 and words[1].isdigit():
        try:
            removed = rules.remove(int(words[1]))
        except ValueError as exc:
            _say(ctx, str(exc), "yellow")
            return
        _say(ctx, f"removed: {removed.describe()}")
        return
    listed = rules.rules()
    if not listed:
        _say(
            ctx,
            "no rules yet; answer '!' to a question to save one for exactly that call "
            "('a' allows it for this session only)",
            "dim",
        )
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for i, rule in enumerate(listed, 1):
        table.add_row(str(i), rule.describe(), Text(rule.created, style="dim"))
    ctx.console.print(table)
    allowed = sorted(ctx.app.guard.session_allowed)
    if allowed:
        _say(ctx, "allowed for this session: " + ", ".join(allowed), "dim")
    for line in trust_lines(ctx.app.cwd, ctx.app.home):
        _say(ctx, line, "dim")
    _say(ctx, "/permissions remove N deletes rule N; /permissions trust revoke", "dim")


def _what(arg: str) -> tuple[bool, bool, bool, str]:
    """'files', 'conversation' or 'both' (default), and 'force', from the words."""
    words = arg.split()
    files = "conversation" not in words
    conversation = "files" not in words
    rest = " ".join(w for w in words if w not in {"files", "conversation", "both", "force"})
    return files, conversation, "force" in words, rest


async def undo_command(ctx: ReplContext, arg: str) -> None:
    files, conversation, force, _ = _what(arg)
    report = ctx.app.undo_last_turn(files=files, conversation=conversation, force=force)
    _say(ctx, report)


async def rewind_command(ctx: ReplContext, arg: str) -> None:
    files, conversation, force, rest = _what(arg)
    turns = sorted(ctx.app.agent.turn_starts)
    if not rest:
        if not turns:
            _say(ctx, "nothing to rewind")
            return
        for turn in turns:
            start = ctx.app.agent.turn_starts[turn]
            typed = typed_prompt(ctx.app.agent.history[start].text) or "(no text)"
            _say(ctx, f"  {turn}: {one_line(typed, 90)}")
        _say(ctx, "/rewind N [files|conversation] goes back to before turn N", "dim")
        return
    if not rest.isdigit():
        _say(ctx, "usage: /rewind N [files|conversation]", "yellow")
        return
    _say(ctx, ctx.app.rewind(int(rest), files=files, conversation=conversation, force=force))


async def rollback_command(ctx: ReplContext, arg: str) -> None:
    words = arg.split()
    if not words:
        _say(ctx, "usage: /rollback PATH [VERSION]: list a file's saved versions, or restore one")
        return
    checkpoints = ctx.app.safety.checkpoints
    path = (ctx.app.cwd / words[0]).resolve()
    versions = checkpoints.versions(path)
    if len(words) == 1:
        if not versions:
            _say(ctx, f"no saved versions of {words[0]}")
        for i, version in enumerate(versions, 1):
            _say(ctx, f"  {i}. {version.describe()}")
        return
    if not words[1].isdigit() or not 1 <= int(words[1]) <= len(versions):
        _say(ctx, f"version must be 1..{len(versions)}", "yellow")
        return
    try:
        checkpoints.restore_version(path, versions[int(words[1]) - 1].id)
    except MnemoError as exc:
        _say(ctx, exc.one_line(), "red")
        return
    _say(ctx, f"restored {words[0]} to version {words[1]}")


async def history_command(ctx: ReplContext, arg: str) -> None:
    limit = int(arg) if arg.isdigit() else 20
    entries = ctx.app.safety.audit.query(limit=limit)
    if not entries:
        _say(ctx, "no decisions recorded yet", "dim")
    for entry in entries:
        _say(ctx, entry.one_line())


COMMANDS = [
    SlashCommand(
        "auto", "auto mode on/off, and its command whitelist", auto_command, "on|off|whitelist"
    ),
    SlashCommand(
        "safety", "turn safety checks off for this session (asks first)", safety_command, "off|on"
    ),
    SlashCommand("template", "a task template for autonomous runs", template_command, "[goal]"),
    SlashCommand(
        "permissions",
        "your permission rules and this folder's trust",
        permissions_command,
        "[remove N|trust revoke]",
    ),
    SlashCommand(
        "undo",
        "undo the last turn: files and conversation",
        undo_command,
        "[files|conversation] [force]",
    ),
    SlashCommand(
        "rewind", "go back to before turn N", rewind_command, "[N] [files|conversation] [force]"
    ),
    SlashCommand(
        "rollback", "restore any saved version of one file", rollback_command, "PATH [VERSION]"
    ),
    SlashCommand("history", "the last N safety decisions (audit log)", history_command, "[N]"),
]
