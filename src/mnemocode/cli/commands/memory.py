"""Memory commands: /memory (show, set, del, pin, unpin, search), /remember, /forget.

The helpers before the handlers work on a ``Memory`` alone, so ``mnemo memory ...``
(``cli/memory_cli.py``) shares them. After a change the REPL calls
``App.refresh_memory``: the prompt and ``.mnemo/MEMORY.md`` show it at once.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.cli.render import one_line
from mnemocode.core.errors import MnemoError
from mnemocode.memory.types import ENTRY_KINDS, ENTRY_STATUSES, Entry, EntryKind, EntryStatus, Trait

if TYPE_CHECKING:
    from mnemocode.core.types import Message
    from mnemocode.memory.service import Memory

TRAIT_PREFIX = "trait:"
GLOBAL_DIMENSION = "preferences"
VALUE_WIDTH = 70

Item = Entry | Trait


class MemoryCommandError(MnemoError):
    """A memory command that cannot be done as asked (unknown key, bad kind...)."""


# ---- parsing -------------------------------------------------------------------------


def take_options(
    arg: str, valued: tuple[str, ...] = (), flags: tuple[str, ...] = ()
) -> tuple[dict[str, str], set[str], str]:
    """``--name value`` / ``--name=value`` options and ``--flag`` flags taken out
    of ``arg``, anywhere in it; returns them and the rest (spacing kept)."""
    values: dict[str, str] = {}
    seen: set[str] = set()
    for name in valued:
        pattern = re.compile(rf"(?:^|\s)--{name}(?:=|\s+)(\S+)")
        found = pattern.search(arg)
        if found:
            values[name] = found.group(1)
            arg = arg[: found.start()] + " " + arg[found.end() :]
    for name in flags:
        pattern = re.compile(rf"(?:^|\s)--{name}(?=\s|$)")
        if pattern.search(arg):
            seen.add(name)
            arg = pattern.sub(" ", arg)
    return values, seen, arg.strip()


def check_kind(kind: str) -> EntryKind:
    if kind not in ENTRY_KINDS:
        raise MemoryCommandError(f"unknown kind {kind!r} (kinds: {', '.join(ENTRY_KINDS)})")
    return kind


def check_status(status: str) -> EntryStatus:
    if status not in ENTRY_STATUSES:
        known = ", ".join(ENTRY_STATUSES)
        raise MemoryCommandError(f"unknown status {status!r} (statuses: {known})")
    return status


# ---- changing memory -----------------------------------------------------------------


def set_entry(
    memory: Memory, key: str, value: str, *, kind: str | None = None, status: str | None = None
) -> tuple[Entry, bool]:
    """Add or change the project entry ``key``; an existing entry keeps its kind,
    status, rationale and pin unless told otherwise. Returns (entry, created)."""
    key, value = key.strip(), value.strip()
    if not key or key.startswith(TRAIT_PREFIX):
        raise MemoryCommandError(f"not a usable key: {key!r}")
    if not value:
        raise MemoryCommandError(f"no value given for {key!r}")
    existing = memory.entries.get(key)
    entry = Entry(
        key,
        check_kind(kind) if kind else (existing.kind if existing else "fact"),
        value,
        rationale=existing.rationale if existing else "",
        status=check_status(status) if status else (existing.status if existing else "active"),
        source="user",
    )
    return memory.entries.upsert(entry), existing is None


def remember_global(memory: Memory, text: str) -> Trait:
    """A core trait (dimension "preferences") from the user's own words; saying the
    same thing again reinforces the trait instead of adding a twin."""
    from mnemocode.memory.mirror import derive_key

    text = " ".join(text.split())
    if not text:
        raise MemoryCommandError("nothing to remember")
    traits = memory.traits.all()
    same = [t for t in traits if t.value.lower() == text.lower()]
    if same:
        return memory.traits.observe(same[0].dimension, same[0].key, text, at=memory.clock())
    key = derive_key(text, {t.key for t in traits})
    return memory.traits.observe(GLOBAL_DIMENSION, key, text, at=memory.clock())


def find_trait(memory: Memory, ref: str) -> Trait:
    number = ref.removeprefix(TRAIT_PREFIX).strip()
    trait = next((t for t in memory.traits.all() if str(t.id) == number), None)
    if trait is None:
        raise MemoryCommandError(f"no core trait {ref!r} (/memory lists them as trait:<id>)")
    return trait


def lookup(memory: Memory, target: str) -> Item | None:
    """The entry named ``target``, or the trait ``trait:<id>``; None when no entry has
    that key (a bad trait reference raises)."""
    if target.startswith(TRAIT_PREFIX):
        return find_trait(memory, target)
    return memory.entries.get(target)


def delete_item(memory: Memory, item: Item) -> str:
    """Delete ``item``; says what was deleted."""
    if isinstance(item, Trait):
        if item.id is not None:
            memory.traits.delete(item.id)
        return f"forgot core trait {ref(item)} [{item.dimension}]: {item.value}"
    memory.entries.delete(item.key)
    return f"forgot {item.key} ({item.kind}): {item.value}"


def set_pin(memory: Memory, target: str, pinned: bool) -> str:
    item = lookup(memory, target)
    if item is None:
        raise MemoryCommandError(f"no memory entry named {target!r}")
    if isinstance(item, Trait):
        if item.id is not None:
            memory.traits.set_pinned(item.id, pinned)
    else:
        memory.entries.set_pinned(item.key, pinned)
    return f"{'pinned' if pinned else 'unpinned'} {ref(item)}: {item.value}"


def matches(memory: Memory, text: str) -> list[Item]:
    """Entries and traits containing every word of ``text`` (any case)."""
    words = text.lower().split()
    if not words:
        return []
    items: list[Item] = [*memory.entries.all(), *memory.traits.all()]
    return [i for i in items if all(w in _haystack(i) for w in words)]


def _haystack(item: Item) -> str:
    extra = item.rationale if isinstance(item, Entry) else item.dimension
    return f"{item.key} {item.value} {extra}".lower()


@dataclass(slots=True)
class Forgotten:
    """What ``forget`` did: ``deleted`` says what went; otherwise ``candidates``
    (none, or several to choose from)."""

    deleted: str | None = None
    candidates: list[Item] = field(default_factory=list)


def forget(memory: Memory, target: str) -> Forgotten:
    """Forget an entry by key, a trait by ``trait:<id>``, or the one item the words
    describe. Several matches delete nothing."""
    target = target.strip()
    item = lookup(memory, target)
    if item is not None:
        return Forgotten(delete_item(memory, item))
    found = matches(memory, target)
    if len(found) == 1:
        return Forgotten(delete_item(memory, found[0]))
    return Forgotten(None, found)


# ---- describing memory ---------------------------------------------------------------


def ref(item: Item) -> str:
    return f"{TRAIT_PREFIX}{item.id}" if isinstance(item, Trait) else item.key


def describe(item: Item) -> str:
    if isinstance(item, Trait):
        return f"{ref(item)} [{item.dimension}] {item.value}"
    return f"{item.key} ({item.kind}): {item.value}"


def report(
    memory: Memory, *, history: list[Message] | None = None, session_id: str | None = None
) -> dict[str, Any]:
    """Everything ``/memory`` and ``mnemo memory show`` tell, as plain data."""
    from mnemocode.memory.forgetting import trait_score
    from mnemocode.memory.injection import entry_line

    core, project = memory.prefix_sections()
    recent = memory.recent_section(exclude_session=session_id)
    core_lines, project_lines = set(core.text.splitlines()), set(project.text.splitlines())
    now = memory.clock()
    tokens = {"core": core.tokens, "project": project.tokens, "recent": recent.tokens}
    if history is not None:
        tokens["history"] = sum(memory.count(m.text) for m in history)
    summaries = [s for s in memory.summaries.current() if s.session_id != session_id]
    return {
        "project": memory.project.name,
        "workdir": str(memory.project.workdir),
        "core": [
            {
                **asdict(t),
                "score": round(trait_score(t, now), 3),
                "in_prompt": f"- [{t.dimension}] {t.value}" in core_lines,
            }
            for t in memory.traits.all()
        ],
        "entries": [
            {**asdict(e), "in_prompt": entry_line(e) in project_lines} for e in memory.entries.all()
        ],
        "recent": {"summaries": len(summaries), "in_prompt": recent.items},
        "tokens": tokens,
        "pending_jobs": memory.pending_jobs(),
    }


def report_lines(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``report`` as (line, style) pairs for a terminal."""
    from mnemocode.memory.injection import KIND_TITLES

    lines: list[tuple[str, str]] = []
    core = data["core"]
    lines.append((f"Core memory — about you, across projects ({len(core)})", "bold"))
    if not core:
        lines.append(("  nothing yet", "dim"))
    for t in core:
        marks = ["pinned"] if t["pinned"] else []
        marks.append("in prompt" if t["in_prompt"] else "not in prompt")
        head = f"  trait:{t['id']}  [{t['dimension']}] {one_line(t['value'], VALUE_WIDTH)}"
        lines.append((f"{head}  score {t['score']:.2f} · {', '.join(marks)}", ""))
    entries = data["entries"]
    lines.append((f"Project memory — {data['project']} ({len(entries)})", "bold"))
    if not entries:
        lines.append(("  nothing yet", "dim"))
    for kind in ENTRY_KINDS:
        group = [e for e in entries if e["kind"] == kind]
        if group:
            lines.append((f"  {KIND_TITLES[kind]}", "bold"))
        for e in group:
            marks = [e["status"]] + (["pinned"] if e["pinned"] else [])
            if not e["in_prompt"]:
                marks.append("not in prompt")
            text = f"    {e['key']}: {one_line(e['value'], VALUE_WIDTH)}  ({', '.join(marks)})"
            lines.append((text, ""))
    recent = data["recent"]
    shown = f"{recent['summaries']} summaries, {recent['in_prompt']} in the prompt"
    lines.append((f"Recent sessions: {shown}", ""))
    tokens = " · ".join(f"{layer} {n:,}" for layer, n in data["tokens"].items())
    lines.append((f"Tokens: {tokens}", ""))
    if data["pending_jobs"]:
        lines.append((f"Memory work pending: {data['pending_jobs']} job(s)", "yellow"))
    return lines


# ---- the REPL commands ---------------------------------------------------------------

MEMORY_USAGE = (
    "usage: /memory [set KEY VALUE [--kind K] [--status S] | del KEY | pin KEY | "
    "unpin KEY | search QUERY]   (a core trait is trait:<id>)"
)


def _memory(ctx: ReplContext) -> Memory | None:
    if ctx.app.memory is None:
        ctx.say("memory is turned off ([memory] enabled = false)", "yellow")
    return ctx.app.memory


async def memory_command(ctx: ReplContext, arg: str) -> None:
    memory = _memory(ctx)
    if memory is None:
        return
    action, _, rest = arg.partition(" ")
    rest = rest.strip()
    try:
        if action in {"", "show"}:
            data = report(memory, history=ctx.app.agent.history, session_id=ctx.app.session_id)
            for line, style in report_lines(data):
                ctx.say(line, style)
            return
        if action == "search":
            _search(ctx, memory, rest)
            return
        if action == "set":
            options, _, rest = take_options(rest, ("kind", "status"))
            key, _, value = rest.partition(" ")
            if not value.strip():
                raise MemoryCommandError("usage: /memory set KEY VALUE [--kind K]")
            entry, created = set_entry(
                memory, key, value, kind=options.get("kind"), status=options.get("status")
            )
            done = f"{'added' if created else 'updated'} {describe(entry)}"
        elif action in {"del", "delete", "rm"} and rest:
            item = lookup(memory, rest)
            if item is None:
                raise MemoryCommandError(f"no memory entry named {rest!r} (/forget searches)")
            done = delete_item(memory, item)
        elif action in {"pin", "unpin"} and rest:
            done = set_pin(memory, rest, action == "pin")
        else:
            ctx.say(MEMORY_USAGE, "yellow")
            return
    except MnemoError as exc:
        ctx.say(f"✗ {exc.one_line()}", "red")
        return
    ctx.app.refresh_memory()
    ctx.say(done, "green")


def _search(ctx: ReplContext, memory: Memory, query: str) -> None:
    if not query:
        ctx.say("usage: /memory search QUERY", "yellow")
        return
    hits = memory.search(query, limit=10)
    if not hits:
        ctx.say(f"nothing in memory matches {query!r}", "dim")
    for hit in hits:
        ctx.say(f"  [{hit.source}] {hit.ref}  {one_line(hit.text, VALUE_WIDTH)}")


async def remember_command(ctx: ReplContext, arg: str) -> None:
    memory = _memory(ctx)
    if memory is None:
        return
    _, flags, text = take_options(arg, flags=("global",))
    if not text:
        ctx.say("usage: /remember [--global] <text>", "yellow")
        return
    try:
        if "global" in flags:
            trait = remember_global(memory, text)
            done = f"remembered about you (all projects): {describe(trait)}"
        else:
            entry = memory.remember(text)
            done = f"remembered in {memory.project.name}: {describe(entry)}"
    except MnemoError as exc:
        ctx.say(f"✗ {exc.one_line()}", "red")
        return
    ctx.app.refresh_memory()
    ctx.say(done, "green")


async def forget_command(ctx: ReplContext, arg: str) -> None:
    memory = _memory(ctx)
    if memory is None:
        return
    if not arg:
        ctx.say("usage: /forget <key | trait:<id> | words>", "yellow")
        return
    try:
        result = forget(memory, arg)
    except MnemoError as exc:
        ctx.say(f"✗ {exc.one_line()}", "red")
        return
    if result.deleted is not None:
        ctx.app.refresh_memory()
        ctx.say(result.deleted, "green")
        return
    if not result.candidates:
        ctx.say(f"nothing in memory matches {arg!r}; nothing forgotten", "yellow")
        return
    ctx.say(f"{len(result.candidates)} items match {arg!r}; nothing forgotten. Which one?")
    for item in result.candidates:
        ctx.say(f"  {describe(item)}")
    ctx.say("/forget <key> or /forget trait:<id> forgets exactly one", "dim")


COMMANDS = [
    SlashCommand(
        "memory",
        "show memory and its token use; set, del, pin, unpin, search",
        memory_command,
        "[set|del|pin|unpin|search ...]",
    ),
    SlashCommand(
        "remember",
        "remember a note for this project (--global: about you)",
        remember_command,
        "[--global] <text>",
    ),
    SlashCommand(
        "forget",
        "forget an entry, a trait, or the one item matching words",
        forget_command,
        "<key|trait:id|words>",
    ),
]
