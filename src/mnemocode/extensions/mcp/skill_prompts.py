"""Skills as MCP prompts for ``mnemo mcp serve``: every skill the user may start
(``/name`` in the REPL) is a prompt of the same name with one optional ``arguments``
argument; getting it renders the skill's instructions (``$ARGUMENTS``, ``$1``…
substituted) as one user message, with where the skill's files are."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mnemocode.extensions.skills.activation import resource_files, substitute

if TYPE_CHECKING:
    import mcp_types as types

    from mnemocode.extensions.skills.discovery import SkillCatalog

ARGUMENTS = "arguments"


class SkillPrompts:
    """A ``PromptSource`` (``extensions/mcp/server.py``) over a session's skills."""

    def __init__(self, catalog: SkillCatalog) -> None:
        self.catalog = catalog

    def prompts(self) -> list[types.Prompt]:
        import mcp_types as types

        return [
            types.Prompt(
                name=skill.name,
                description=skill.description,
                arguments=[
                    types.PromptArgument(
                        name=ARGUMENTS,
                        description=skill.argument_hint or "what the skill works on",
                        required=False,
                    )
                ],
            )
            for skill in self.catalog.skills().values()
            if skill.user_invocable
        ]

    def render(self, name: str, arguments: Mapping[str, str]) -> types.GetPromptResult:
        import mcp_types as types
        from mcp.shared.exceptions import MCPError

        skill = self.catalog.get(name)
        if skill is None or not skill.user_invocable:
            known = ", ".join(p.name for p in self.prompts()) or "none"
            # the client's error, not the server's: no traceback on the server's stderr
            raise MCPError(types.INVALID_PARAMS, f"no prompt named {name!r} (prompts: {known})")
        text = substitute(skill.body(), arguments.get(ARGUMENTS, ""), skill.folder).rstrip()
        files = resource_files(skill.folder)
        if files:
            text += f"\n\nThis skill's files, under {skill.folder}: " + ", ".join(files)
        message = types.PromptMessage(role="user", content=types.TextContent(text=text))
        return types.GetPromptResult(description=skill.description, messages=[message])
