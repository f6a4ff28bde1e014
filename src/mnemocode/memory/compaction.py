"""Structured summaries of conversations: for compaction (older history replaced by
a summary) and for the session archive (a titled summary of a finished session).

One model call each, answered with JSON validated by pydantic (see ``structured``).
Summaries keep decisions with their rationale (rejected and reversed ones marked),
progress, pending work and key facts verbatim, and leave raw code out.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, field_validator

from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import Message
from mnemocode.memory.structured import StructuredOutputError, ask_json
from mnemocode.memory.transcript import render_transcript

MAX_TITLE_CHARS = 80
DecisionStatus = Literal["active", "rejected", "reversed"]


class SummaryError(StructuredOutputError):
    """The model did not produce a usable summary (after one retry)."""


def _as_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict | list):
        return json.dumps(item, ensure_ascii=False)
    return str(item)


class Decision(BaseModel):
    what: str
    why: str = ""
    status: DecisionStatus = "active"

    @field_validator("status", mode="before")
    @classmethod
    def _lower_status(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class CompactionSummary(BaseModel):
    """What a summary keeps; key_facts are identifiers, file names, names, numbers
    and commands, verbatim."""

    topics: list[str] = []
    decisions: list[Decision] = []
    progress: list[str] = []
    pending: list[str] = []
    key_facts: list[str] = []

    @field_validator("topics", "progress", "pending", "key_facts", mode="before")
    @classmethod
    def _text_items(cls, value: Any) -> Any:
        """Tolerate a lone string, null, and numbers or objects among the items."""
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [_as_text(item) for item in value if item is not None]
        return value

    @field_validator("decisions", mode="before")
    @classmethod
    def _decision_items(cls, value: Any) -> Any:
        """A decision given as a bare string is its ``what``."""
        if value is None:
            return []
        if isinstance(value, str | dict):
            value = [value]
        if isinstance(value, list):
            return [{"what": item} if isinstance(item, str) else item for item in value]
        return value


class SessionSummary(CompactionSummary):
    """A finished session's summary for the archive, with a short title."""

    title: str

    @field_validator("title")
    @classmethod
    def _short_title(cls, value: str) -> str:
        title = " ".join(value.split())
        if len(title) > MAX_TITLE_CHARS:
            title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
        return title


_FIELD_GUIDE = """\
What each field keeps:
- topics: the subjects and tasks discussed, a few words each.
- decisions: every decision, with its rationale in "why". An option considered and \
turned down is "rejected"; a decision taken and later undone is "reversed" (the \
decision that replaced it is a separate "active" one). Keep rejected and reversed \
ones: they stop the same idea from being proposed again.
- progress: what was done and what was verified (files changed, tests and their outcome).
- pending: unfinished work, open questions, next steps, requests not yet done.
- key_facts: identifiers, file paths, function and class names, names of people and \
services, numbers, versions, commands, URLs, error messages — copied verbatim.

Rules:
- Leave raw code out: name the files, functions and classes and say what changed, \
instead of copying code.
- Short items, no repetition, no remarks about the summary itself.
- Write in the language of the conversation.
- Never include secrets (API keys, tokens, passwords).
"""


def _json_only(schema: type[BaseModel]) -> str:
    return (
        "Reply with ONLY a JSON object matching this JSON Schema — no prose before or "
        "after it, no code fences:\n"
        f"{json.dumps(schema.model_json_schema(), ensure_ascii=False)}"
    )


def compaction_prompt(*, merging: bool) -> str:
    intro = (
        "You compress the earlier part of a conversation between a user and a coding "
        "assistant (in <conversation>) into a structured summary that replaces it. The "
        "assistant continues the work from this summary and the recent messages alone, "
        "so keep everything needed to carry on. Items the user asked to keep are listed "
        "in <preserve> when there are any."
    )
    merge = (
        "\n\nThe user message starts with the summary of even older history, in "
        "<older_summary>. Merge it in: carry its items forward, update those the "
        "conversation changed (a decision now reversed, a pending item now done), and "
        "drop only what is obsolete."
        if merging
        else ""
    )
    return f"{intro}{merge}\n\n{_FIELD_GUIDE}\n{_json_only(CompactionSummary)}"


def session_prompt() -> str:
    return (
        "You summarise a finished session between a user and a coding assistant for "
        "the session archive; it will be searched and read in later sessions to "
        "recall what happened and why.\n"
        f"- title: a short title (at most {MAX_TITLE_CHARS} characters) naming the "
        "session's main task.\n\n"
        f"{_FIELD_GUIDE}\n{_json_only(SessionSummary)}"
    )


def _user_message(transcript: str, *, previous: str | None, keep: list[str] | None) -> str:
    parts: list[str] = []
    if previous and previous.strip():
        parts.append(f"<older_summary>\n{previous.strip()}\n</older_summary>")
    if keep:
        items = "\n".join(f"- {item}" for item in keep)
        parts.append(
            "<preserve>\nIf the conversation or the older summary mentions any of these, "
            f"copy it verbatim into key_facts:\n{items}\n</preserve>"
        )
    parts.append(f"<conversation>\n{transcript or '(no messages)'}\n</conversation>")
    parts.append("Reply with the JSON object only.")
    return "\n\n".join(parts)


async def summarize(
    model: ChatModel,
    messages: list[Message],
    *,
    previous: str | None = None,
    keep: list[str] | None = None,
    max_input_chars: int = 60_000,
) -> CompactionSummary:
    """Summarise ``messages`` for compaction, merging ``previous`` (the summary of
    older history) and keeping the ``keep`` items verbatim. Raises ``SummaryError``."""
    transcript = render_transcript(messages, max_chars=max_input_chars)
    system = compaction_prompt(merging=bool(previous and previous.strip()))
    user = _user_message(transcript, previous=previous, keep=keep)
    try:
        return await ask_json(model, system, user, CompactionSummary)
    except StructuredOutputError as exc:
        raise SummaryError(
            f"could not summarise the conversation: {exc}", reply=exc.reply, problem=exc.problem
        ) from exc


async def summarize_session(
    model: ChatModel, messages: list[Message], *, max_input_chars: int = 60_000
) -> SessionSummary:
    """A titled summary of a whole session for the archive. Raises ``SummaryError``."""
    transcript = render_transcript(messages, max_chars=max_input_chars)
    user = _user_message(transcript, previous=None, keep=None)
    try:
        return await ask_json(model, session_prompt(), user, SessionSummary)
    except StructuredOutputError as exc:
        raise SummaryError(
            f"could not summarise the session: {exc}", reply=exc.reply, problem=exc.problem
        ) from exc


def _decision_line(decision: Decision) -> str:
    line = f"- {' '.join(decision.what.split())}"
    if decision.why.strip():
        line += f" — {' '.join(decision.why.split())}"
    if decision.status != "active":
        line += f" ({decision.status})"
    return line


def _items(values: list[str]) -> list[str]:
    return [f"- {' '.join(value.splitlines()).strip()}" for value in values if value.strip()]


def render_summary(
    summary: CompactionSummary, *, title: str = "Summary of the earlier conversation"
) -> str:
    """Markdown: the title, then one section per non-empty field."""
    sections: list[tuple[str, list[str]]] = [
        ("Topics", _items(summary.topics)),
        ("Decisions", [_decision_line(d) for d in summary.decisions if d.what.strip()]),
        ("Progress", _items(summary.progress)),
        ("Pending", _items(summary.pending)),
        ("Key facts", _items(summary.key_facts)),
    ]
    parts = [f"# {title}"]
    parts.extend(f"## {name}\n" + "\n".join(lines) for name, lines in sections if lines)
    return "\n\n".join(parts) + "\n"
