"""The ``skill`` tool: the model loads a skill's instructions by name."""

from __future__ import annotations

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.extensions.skills.activation import SkillNotFound, SkillSession
from mnemocode.tools.base import Tool, tool

TOOL_NAME = "skill"


def skill_tool(session: SkillSession) -> Tool:
    @tool(name=TOOL_NAME, read_only=True)
    async def skill(ctx: ToolContext, name: str, arguments: str = "") -> str:
        """Load a skill's instructions (a skill listed in the system prompt) and follow them.

        Args:
            name: The skill's name, as listed.
            arguments: The task or arguments for the skill ($ARGUMENTS in its text).
        """
        try:
            return session.activate(name, arguments, ctx.turn)
        except SkillNotFound as exc:
            raise ToolError(str(exc)) from None
        except OSError as exc:
            raise ToolError(f"cannot read skill {name!r}: {exc.strerror or exc}") from None

    return skill
