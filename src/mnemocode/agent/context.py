"""Builds each model request: a system prefix that stays byte-identical across the
turns of a session (so provider prompt caches hit), then the history."""

from __future__ import annotations

import platform
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from mnemocode.agent.instructions import InstructionFile
from mnemocode.core.types import Message, ModelRequest, SystemBlock, ToolSpec

BASE_PROMPT = """\
You are mnemo, a coding agent working in the user's terminal, in their repository.
- Read before you change: use glob/grep/file_read to find the relevant code.
- Change files with file_edit (small exact edits) or file_write (new files).
- Verify: run the project's tests or the command that shows the change works.
- Keep going until the task is done or you are blocked; then answer briefly: what \
you changed and how you checked it.
- A denied or failed tool call comes back as an error: read the reason and adapt.
- When the user refers to earlier work or decisions, use memory_search before guessing.
- Be concise; use Markdown; refer to code as path:line."""


# Lines of BASE_PROMPT that only make sense with this tool.
_NEEDS_TOOL = {"memory_search": "use memory_search before guessing"}


def base_prompt_for(tool_names: Collection[str] | None) -> str:
    if tool_names is None:
        return BASE_PROMPT
    missing = [phrase for name, phrase in _NEEDS_TOOL.items() if name not in tool_names]
    lines = BASE_PROMPT.split("\n")
    return "\n".join(line for line in lines if not any(p in line for p in missing))


@dataclass(slots=True)
class SystemPrefix:
    """Computed once per session. Never rebuilt mid-session."""

    blocks: list[SystemBlock]

    @classmethod
    def build(
        cls,
        cwd: Path,
        instructions: list[InstructionFile],
        base_prompt: str | None = None,
        today: date | None = None,
        *,
        memory: str = "",
        tool_names: Collection[str] | None = None,
        code_map: str = "",
        skills: str = "",
    ) -> SystemPrefix:
        """``tool_names``: the tools the model has; lines of the built-in prompt
        about a tool it lacks are left out (None: all tools). ``code_map``: the
        small map of a large repository, made for the session's first request.
        ``skills``: the skills' names and descriptions (their bodies load on use)."""
        env = (
            f"Working directory: {cwd}\nPlatform: {platform.system()} {platform.machine()}\n"
            f"Date at session start: {(today or date.today()).isoformat()}"
        )
        parts = [base_prompt or base_prompt_for(tool_names), env]
        for item in instructions:
            parts.append(
                f"Instructions from {item.path} (follow them; later files win):\n{item.text}"
            )
        if skills:
            parts.append(skills)
        if code_map:
            parts.append(code_map)
        if memory:
            parts.append(memory)
        return cls([SystemBlock("\n\n".join(parts), cache=True)])

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(slots=True)
class ContextBuilder:
    """The request for each model call: the stable prefix, then what changes
    rarely (summaries of recent sessions; the summary of this session's
    compacted part), then the live history."""

    prefix: SystemPrefix
    max_output_tokens: int | None = None
    temperature: float | None = None
    extra_blocks: list[SystemBlock] = field(default_factory=list)
    recent: str = ""  # summaries of past sessions (memory's "recent" layer)
    summary: str = ""  # what compaction replaced of this session's history

    def system_blocks(self) -> list[SystemBlock]:
        blocks = [*self.prefix.blocks, *self.extra_blocks]
        blocks += [SystemBlock(text) for text in (self.recent, self.summary) if text]
        return blocks

    def build(self, history: list[Message], tools: list[ToolSpec]) -> ModelRequest:
        return ModelRequest(
            messages=list(history),
            system=self.system_blocks(),
            tools=tools,
            max_output_tokens=self.max_output_tokens,
            temperature=self.temperature,
        )
