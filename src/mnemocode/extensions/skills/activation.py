"""Activating a skill: its body with the arguments put in, and where its files are.

``$ARGUMENTS`` is the whole argument text, ``$1``, ``$2``… its words (shell
quoting), ``${CLAUDE_SKILL_DIR}`` / ``${SKILL_DIR}`` the skill's folder. A body
that names no argument gets them appended (as Claude Code does). While a skill is
active (the rest of the turn it was started in) its ``allowed-tools`` apply
(``approval.py``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.extensions.skills.discovery import SkillCatalog
from mnemocode.extensions.skills.spec import Skill

RESOURCE_DIRS = ("scripts", "references", "assets")
MAX_LISTED_FILES = 40
_POSITIONAL = re.compile(r"\$(\d+)")
_DIR_VARS = ("${CLAUDE_SKILL_DIR}", "${SKILL_DIR}")


class SkillNotFound(LookupError):
    pass


def substitute(body: str, arguments: str, folder: Path) -> str:
    try:
        words = shlex.split(arguments)
    except ValueError:
        words = arguments.split()
    named = "$ARGUMENTS" in body or _POSITIONAL.search(body) is not None
    text = body.replace("$ARGUMENTS", arguments)
    text = _POSITIONAL.sub(
        lambda m: words[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(words) else "", text
    )
    for var in _DIR_VARS:
        text = text.replace(var, str(folder))
    if arguments.strip() and not named:
        text = f"{text.rstrip()}\n\nARGUMENTS: {arguments}\n"
    return text


def resource_files(folder: Path) -> list[str]:
    """Files under ``scripts/``, ``references/``, ``assets/``, relative to the folder."""
    found: list[str] = []
    for name in RESOURCE_DIRS:
        base = folder / name
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file():
                found.append(path.relative_to(folder).as_posix())
            if len(found) >= MAX_LISTED_FILES:
                return found
    return found


def render(skill: Skill, arguments: str) -> str:
    """What the model gets: the body, and how to reach the skill's files."""
    body = substitute(skill.body(), arguments, skill.folder)
    files = resource_files(skill.folder)
    lines = [f'<skill name="{skill.name}" folder="{skill.folder}">', body.rstrip(), "</skill>"]
    if files:
        lines.append(
            f"Files of this skill, relative to {skill.folder} (read one with file_read "
            "and its absolute path when the instructions call for it): " + ", ".join(files)
        )
    return "\n".join(lines)


@dataclass(slots=True)
class SkillSession:
    """One session's skills: the catalog, and which are active in which turn."""

    catalog: SkillCatalog
    prompt_tokens: int = 1_500
    active: dict[str, int] = field(default_factory=dict)  # name → turn started in
    notices: list[str] = field(default_factory=list)

    def activate(self, name: str, arguments: str, turn: int, *, by_user: bool = False) -> str:
        skill = self.catalog.get(name)
        if skill is None:
            known = ", ".join(n for n, s in self.catalog.skills().items() if s.model_invocable)
            raise SkillNotFound(f"no skill named {name!r} (skills: {known or 'none'})")
        if not by_user and not skill.model_invocable:
            raise SkillNotFound(
                f"skill {name!r} is started only by the user (/{name}); it is not for the model"
            )
        self.active[name] = turn
        return render(skill, arguments)

    def active_skills(self, turn: int) -> list[Skill]:
        skills = self.catalog.skills()
        return [skills[n] for n, t in self.active.items() if t == turn and n in skills]

    def folders(self) -> list[Path]:
        return [s.folder for s in self.catalog.skills().values()]
