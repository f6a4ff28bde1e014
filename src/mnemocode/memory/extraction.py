"""The judge: after a session, a model proposes what memory should add, update or delete.

Two layers: ``core`` holds traits of the user (by dimension: communication,
autonomy, tools, languages, workflow, preferences), ``project`` holds what is true
of the project (decisions with rationale, architecture, conventions, progress,
open tasks). The prompt shows the current memory so the judge updates keys
instead of duplicating them.

A reversed decision is recorded as two operations: ``update`` of the old key with
status ``"reversed"`` (its value kept, the rationale saying what replaced it and
why), and ``add`` of the new decision under a key of its own.

After validation the operations are tidied against the current memory: a key
spelled differently from an existing one (``DB Choice`` for ``db-choice``) is
mapped to it (a trait keeps the dimension it is stored under), ``add`` of an
existing key becomes ``update``, ``update`` of an unknown key becomes ``add``,
``delete`` of an unknown key is dropped, and so is any operation carrying
something that looks like a secret.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, Self

from pydantic import BaseModel, field_validator, model_validator

from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import Message
from mnemocode.memory.structured import ask_json
from mnemocode.memory.transcript import render_transcript
from mnemocode.memory.types import (
    DEFAULT_DIMENSION,
    DIMENSION_STABILITY_DAYS,
    ENTRY_KINDS,
    Entry,
    EntryKind,
    EntryStatus,
    Trait,
)
from mnemocode.safety.secrets import default_redactor

MAX_KEY_CHARS = 64
SHOWN_VALUE_CHARS = 300
DEFAULT_KIND: EntryKind = "fact"
_LAYER_ALIASES = {"user": "core", "global": "core", "traits": "core", "projects": "project"}
_NOT_SLUG = re.compile(r"[\W_]+")


def slugify_key(key: str) -> str:
    """A short kebab-case key: lower case, runs of other characters as one ``-``."""
    slug = _NOT_SLUG.sub("-", key.strip().lower()).strip("-")
    return slug[:MAX_KEY_CHARS].rstrip("-")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class MemoryOp(BaseModel):
    """One proposed change. Project ops carry a ``kind``, core ops a ``dimension``."""

    op: Literal["add", "update", "delete"]
    layer: Literal["core", "project"]
    key: str
    value: str = ""
    kind: EntryKind | None = None
    dimension: str | None = None
    rationale: str = ""
    status: EntryStatus = "active"

    @field_validator("op", "status", "dimension", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return _lower(value)

    @field_validator("layer", mode="before")
    @classmethod
    def _layer_alias(cls, value: Any) -> Any:
        value = _lower(value)
        return _LAYER_ALIASES.get(value, value) if isinstance(value, str) else value

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: Any) -> Any:
        """An unknown kind is left to the default rather than failing the whole reply."""
        value = _lower(value)
        return value if value in ENTRY_KINDS else None

    @field_validator("key")
    @classmethod
    def _slug_key(cls, value: str) -> str:
        slug = slugify_key(value)
        if not slug:
            raise ValueError("a key needs letters or digits (a short kebab-case slug)")
        return slug

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.op in ("add", "update") and not self.value.strip():
            raise ValueError(f"{self.op} of {self.key!r} needs a value")
        if self.layer == "project":
            self.kind = self.kind or DEFAULT_KIND
            self.dimension = None
        else:
            if self.dimension not in DIMENSION_STABILITY_DAYS:
                self.dimension = DEFAULT_DIMENSION
            self.kind = None
        return self


class MemoryOps(BaseModel):
    ops: list[MemoryOp] = []


_SYSTEM_INTRO = """\
You maintain the long-term memory of a coding assistant. You read the transcript of \
a session that just ended and the current memory, and propose the few memory \
operations worth keeping for future sessions.

Two layers:
- "core": traits of the USER that hold across projects — communication style, \
autonomy preference (act alone or ask first), tools and languages they favour, \
workflow habits. Set "dimension" to one of: {dimensions}.
- "project": what is true of THIS project — decisions with their rationale, \
architecture, conventions, progress, open tasks. Set "kind" to one of: {kinds}.

Operations:
- "add": a new item under a new key.
- "update": change an existing item, named by its exact key from the current memory \
(give the full new value, and the status and rationale).
- "delete": remove an existing item that turned out wrong or no longer matters.

Rules:
- Update instead of duplicating: when an item on the same subject exists, update its key.
- A decision that was reversed: "update" its key with status "reversed", keeping \
its value, with a rationale saying what replaced it and why; then "add" the new \
decision under a key of its own, with its rationale.
- An option considered and turned down: status "rejected", rationale saying why, so \
it is not proposed again. A task now finished: "update" it with status "done".
- Keys are short kebab-case slugs, e.g. "db-choice", "test-command", "prefers-terse-answers".
- Values are one or two self-contained sentences. No code.
- Nothing trivial, nothing that only mattered within this session, nothing the code \
itself makes obvious.
- Never store secrets: no API keys, tokens, passwords or credentials.
- Items marked pinned were set by the user: leave them unless the user changed them.
- If nothing is worth remembering, reply {{"ops": []}}.

Reply with ONLY a JSON object matching this JSON Schema — no prose, no code fences:
{schema}
"""


def judge_prompt() -> str:
    return _SYSTEM_INTRO.format(
        dimensions=", ".join(DIMENSION_STABILITY_DAYS),
        kinds=", ".join(ENTRY_KINDS),
        schema=json.dumps(MemoryOps.model_json_schema(), ensure_ascii=False),
    )


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def _entry_line(entry: Entry) -> str:
    tags = ", ".join([entry.kind, entry.status, *(["pinned"] if entry.pinned else [])])
    why = f" (why: {_shown(entry.rationale)})" if entry.rationale.strip() else ""
    return f"- {entry.key} [{tags}]: {_shown(entry.value)}{why}"


def _trait_line(trait: Trait) -> str:
    tags = ", ".join([trait.dimension, *(["pinned"] if trait.pinned else [])])
    return f"- {trait.key} [{tags}]: {_shown(trait.value)}"


def judge_input(transcript: str, project: list[Entry], core: list[Trait]) -> str:
    project_lines = "\n".join(_entry_line(e) for e in project) or "(empty)"
    core_lines = "\n".join(_trait_line(t) for t in core) or "(empty)"
    return (
        f"<project_memory>\n{project_lines}\n</project_memory>\n\n"
        f"<core_memory>\n{core_lines}\n</core_memory>\n\n"
        f"<session_transcript>\n{transcript or '(no messages)'}\n</session_transcript>\n\n"
        "Reply with the JSON object only."
    )


def _has_secret(op: MemoryOp) -> bool:
    text = "\n".join([op.key, op.value, op.rationale])
    return "[REDACTED" in text or default_redactor().redact(text) != text


def _existing_core_trait(op: MemoryOp, core: list[Trait]) -> Trait | None:
    """The trait ``op`` names: same key (as a slug), in its dimension if one matches."""
    same_key = [t for t in core if slugify_key(t.key) == op.key]
    in_dimension = [t for t in same_key if t.dimension == op.dimension]
    candidates = in_dimension or same_key
    return candidates[0] if candidates else None


def _tidy(op: MemoryOp, project: list[Entry], core: list[Trait]) -> MemoryOp | None:
    """``op`` matched against the existing items of its layer."""
    update: dict[str, Any] = {}
    if op.layer == "project":
        entry = next((e for e in project if slugify_key(e.key) == op.key), None)
        if entry is not None:
            update["key"] = entry.key
    else:  # a trait is found by dimension and key: keep the existing one's dimension
        trait = _existing_core_trait(op, core)
        if trait is not None:
            update.update(key=trait.key, dimension=trait.dimension)
    if not update:
        return None if op.op == "delete" else op.model_copy(update={"op": "add"})
    update["op"] = "update" if op.op == "add" else op.op
    return op.model_copy(update=update)


def tidy_ops(ops: MemoryOps, project: list[Entry], core: list[Trait]) -> MemoryOps:
    """Map ops onto existing keys, fix add/update/delete accordingly, drop secrets."""
    tidied = []
    for op in ops.ops:
        if _has_secret(op):
            continue
        kept = _tidy(op, project, core)
        if kept is not None:
            tidied.append(kept)
    return MemoryOps(ops=tidied)


async def propose_ops(
    model: ChatModel,
    messages: list[Message],
    *,
    current_project: list[Entry],
    current_core: list[Trait],
    max_input_chars: int = 60_000,
) -> MemoryOps:
    """The memory operations the judge proposes for this session, tidied (see the
    module docstring). Raises ``StructuredOutputError`` when the reply is unusable."""
    transcript = render_transcript(messages, max_chars=max_input_chars)
    user = judge_input(transcript, current_project, current_core)
    proposed = await ask_json(model, judge_prompt(), user, MemoryOps)
    return tidy_ops(proposed, current_project, current_core)
