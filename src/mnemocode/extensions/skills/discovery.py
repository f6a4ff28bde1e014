"""Where skills come from, nearer wins: the built-ins (package data), then the
user's ``~/.mnemo/skills`` (``$MNEMO_HOME/skills``), ``~/.claude/skills``,
``~/.agents/skills``, then the project's ``.mnemo/skills``, ``.claude/skills``,
``.agents/skills`` (only in a trusted folder: a cloned repository's skills are
instructions it brings). A project skill shadows a user skill of the same name,
which shadows a built-in; within one level mnemo's own folder comes first.

Discovery is lazy: the folders are listed, and each ``SKILL.md``'s frontmatter
read, the first time the catalog is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.config.trust import SKILL_DIRS as PROJECT_DIRS
from mnemocode.extensions.skills.frontmatter import Problem
from mnemocode.extensions.skills.spec import SKILL_FILE, Skill, Source, load_skill

BUILTIN_ROOT = Path(__file__).parent / "builtin"
USER_DIRS = (".claude/skills", ".agents/skills")  # relative to the user's HOME
_RANK: dict[Source, int] = {"builtin": 0, "user": 1, "project": 2}


@dataclass(frozen=True, slots=True)
class SkillRoot:
    path: Path
    source: Source


def skill_roots(
    *, mnemo_home: Path, user_home: Path, project_root: Path | None, trusted: bool
) -> list[SkillRoot]:
    """The folders to look in, farthest first (a later one's skill wins)."""
    roots = [SkillRoot(BUILTIN_ROOT, "builtin")]
    # Listed nearest-within-level last, so that ``~/.mnemo/skills`` wins over
    # ``~/.claude/skills`` and the project's ``.mnemo/skills`` over its ``.claude/skills``.
    user = [mnemo_home / "skills", *(user_home / d for d in USER_DIRS)]
    roots += [SkillRoot(p, "user") for p in reversed(user)]
    if project_root is not None and trusted:
        roots += [SkillRoot(project_root / d, "project") for d in reversed(PROJECT_DIRS)]
    return roots


def project_skill_files(project_root: Path) -> list[Path]:
    """Every ``SKILL.md`` a project brings (what the trust question names)."""
    return [f for d in PROJECT_DIRS for f in _skill_files(project_root / d)]


def _skill_files(root: Path) -> list[Path]:
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    return [f / SKILL_FILE for f in folders if (f / SKILL_FILE).is_file()]


@dataclass(slots=True)
class SkillCatalog:
    roots: list[SkillRoot]
    _skills: dict[str, Skill] | None = None
    problems: list[Problem] = field(default_factory=list)
    shadowed: list[Skill] = field(default_factory=list)

    def skills(self) -> dict[str, Skill]:
        """By name, nearest source first in iteration order."""
        if self._skills is None:
            self._skills = self._discover()
        return self._skills

    def get(self, name: str) -> Skill | None:
        return self.skills().get(name)

    def _discover(self) -> dict[str, Skill]:
        found: dict[str, Skill] = {}
        seen: set[Path] = set()
        for root in self.roots:
            for path in _skill_files(root.path):
                real = path.resolve()
                if real in seen:  # ~/.agents/skills linked to ~/.claude/skills
                    continue
                seen.add(real)
                skill, problems = load_skill(path, root.source)
                self.problems.extend(problems)
                if skill is None:
                    continue
                if skill.name in found:
                    self.shadowed.append(found[skill.name])
                found[skill.name] = skill
        ordered = sorted(found.values(), key=lambda s: (-_RANK[s.source], s.name))
        return {s.name: s for s in ordered}
