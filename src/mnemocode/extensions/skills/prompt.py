"""The skills' names and descriptions in the system prompt, under a token cap.

Bodies are not listed: the model loads one with the ``skill`` tool when a task
matches its description (progressive disclosure). Skills marked
``disable-model-invocation`` are left out (only the user starts them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mnemocode.extensions.skills.spec import Skill

HEADER = (
    "Skills: instructions for particular tasks. When a task matches a skill's "
    "description, call the `skill` tool with its name (and the task as `arguments`) "
    "before you start, then follow what it returns."
)


def skills_listing(
    skills: Iterable[Skill], cap_tokens: int, count_tokens: Callable[[str], int]
) -> str:
    """The section, nearest skills first, cut at ``cap_tokens``; "" when none fit."""
    offered = [s for s in skills if s.model_invocable]
    if not offered or cap_tokens <= 0:
        return ""
    lines = [HEADER]
    used = count_tokens(HEADER)
    for index, skill in enumerate(offered):
        line = f"- {skill.name}: {' '.join(skill.description.split())}"
        cost = count_tokens(line) + 1
        left = len(offered) - index
        note = f"- … {left} more skills not listed (the skill tool names them all)"
        if used + cost > cap_tokens or (left > 1 and used + cost + count_tokens(note) > cap_tokens):
            if len(lines) == 1:
                return ""
            lines.append(note)
            break
        lines.append(line)
        used += cost
    return "\n".join(lines)
