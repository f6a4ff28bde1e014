"""/skills, and one ``/name args`` command per skill the user may start.

``/name args`` sends the skill's body, with the arguments put in, as the next user
turn; the skill is active for that turn (its ``allowed-tools`` apply). A fixed
command of the same name wins; ``user-invocable: false`` skills get no command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnemocode.cli.commands import Handler, ReplContext, SlashCommand

if TYPE_CHECKING:
    from mnemocode.app import App


def skill_commands(app: App) -> list[SlashCommand]:
    skills = app.skills
    if skills is None:
        return []
    return [
        SlashCommand(
            skill.name,
            f"{' '.join(skill.description.split())[:70]} (skill)",
            _handler(skill.name),
            skill.argument_hint,
        )
        for skill in skills.catalog.skills().values()
        if skill.user_invocable
    ]


def _handler(name: str) -> Handler:
    async def run(ctx: ReplContext, arg: str) -> None:
        from mnemocode.core.types import Message
        from mnemocode.extensions.skills.activation import SkillNotFound

        skills = ctx.app.skills
        if skills is None:
            ctx.say(f"/{name}: skills are off in this session", "yellow")
            return
        try:
            text = skills.activate(name, arg, ctx.app.agent.turns + 1, by_user=True)
        except (SkillNotFound, OSError) as exc:
            ctx.say(f"✗ /{name}: {exc}; nothing was sent", "red")
            return
        ctx.say(f"/{name}: skill loaded ({len(text)} characters), sent as your message", "dim")
        ctx.queued_turn = Message.user(text)

    return run


async def skills_command(ctx: ReplContext, arg: str) -> None:
    """The skills of this session: name, where from, description."""
    skills = ctx.app.skills
    if skills is None:
        ctx.say("skills are off in this session ([skills] enabled = false)")
        return
    found = skills.catalog.skills()
    if not found:
        ctx.say("no skills (add folders with a SKILL.md to ~/.mnemo/skills or .mnemo/skills)")
    for skill in found.values():
        marks = "" if skill.model_invocable else " · only by /name"
        slash = f"/{skill.name}" if skill.user_invocable else skill.name
        hint = f" {skill.argument_hint}" if skill.argument_hint else ""
        ctx.say(f"{slash}{hint}  ({skill.source}{marks})", "bold")
        ctx.say(f"    {' '.join(skill.description.split())}", "dim")
    for line in skills.notices + [f"not loaded: {p}" for p in skills.catalog.problems]:
        ctx.say(line, "yellow")


COMMANDS = [
    SlashCommand("skills", "the skills of this session (/name args starts one)", skills_command)
]
