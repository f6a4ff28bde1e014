"""Where agents come from, nearer wins: the built-ins (package data), the user's
``~/.mnemo/agents`` (``$MNEMO_HOME/agents``) and ``~/.claude/agents``, then the
project's ``.mnemo/agents`` and ``.claude/agents`` — only in a trusted folder (a
cloned repository's agents are prompts and tool grants it brings). Within one level
mnemo's own folder wins. Files are read the first time the catalog is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.config.trust import AGENT_DIRS as PROJECT_DIRS
from mnemocode.extensions.agents.spec import AgentDef, Source, load_agent
from mnemocode.extensions.skills.frontmatter import Problem

BUILTIN_ROOT = Path(__file__).parent / "builtin"
USER_DIRS = (".claude/agents",)  # relative to the user's HOME
_RANK: dict[Source, int] = {"builtin": 0, "user": 1, "project": 2}


@dataclass(frozen=True, slots=True)
class AgentRoot:
    path: Path
    source: Source


def agent_roots(
    *, mnemo_home: Path, user_home: Path, project_root: Path | None, trusted: bool
) -> list[AgentRoot]:
    """The folders to look in, farthest first (a later one's agent wins)."""
    roots = [AgentRoot(BUILTIN_ROOT, "builtin")]
    user = [mnemo_home / "agents", *(user_home / d for d in USER_DIRS)]
    roots += [AgentRoot(p, "user") for p in reversed(user)]
    if project_root is not None and trusted:
        roots += [AgentRoot(project_root / d, "project") for d in reversed(PROJECT_DIRS)]
    return roots


def agent_files(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.glob("*.md") if p.is_file() and p.name.lower() != "readme.md")
    except OSError:
        return []


def project_agent_files(project_root: Path) -> list[Path]:
    return [f for d in PROJECT_DIRS for f in agent_files(project_root / d)]


@dataclass(slots=True)
class AgentCatalog:
    roots: list[AgentRoot]
    _agents: dict[str, AgentDef] | None = None
    problems: list[Problem] = field(default_factory=list)
    shadowed: list[AgentDef] = field(default_factory=list)

    def agents(self) -> dict[str, AgentDef]:
        """By name, nearest source first in iteration order."""
        if self._agents is None:
            self._agents = self._discover()
        return self._agents

    def get(self, name: str) -> AgentDef | None:
        return self.agents().get(name)

    def _discover(self) -> dict[str, AgentDef]:
        found: dict[str, AgentDef] = {}
        seen: set[Path] = set()
        for root in self.roots:
            for path in agent_files(root.path):
                real = path.resolve()
                if real in seen:
                    continue
                seen.add(real)
                agent, problems = load_agent(path, root.source)
                self.problems.extend(problems)
                if agent is None:
                    continue
                if agent.name in found:
                    self.shadowed.append(found[agent.name])
                found[agent.name] = agent
        ordered = sorted(found.values(), key=lambda a: (-_RANK[a.source], a.name))
        return {a.name: a for a in ordered}
