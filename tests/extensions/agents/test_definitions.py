"""Agent files as Claude Code writes them (and broken ones, reported as
``file:line``), memfun's body sections, discovery with shadowing, the built-ins,
and a cloned repository's agents not offered in an untrusted folder."""

from __future__ import annotations

from pathlib import Path

from mnemocode.extensions.agents.discovery import AgentCatalog, agent_roots
from mnemocode.extensions.agents.setup import open_agents
from mnemocode.extensions.agents.spec import load_agent

CLAUDE_CODE_AGENT = """---
name: code-reviewer
description: Expert code review specialist. Proactively reviews code for quality,
  security, and maintainability. Use immediately after writing or modifying code.
tools: Read, Grep, Glob, Bash(git diff:*)
model: inherit
color: purple
---

You are a senior code reviewer ensuring high standards of code quality and security.

When invoked:
1. Run git diff to see recent changes
2. Focus on modified files
"""

MEMFUN_AGENT = """---
name: planner2
description: Plans work.
---
You plan.

## Capabilities
- planning

## Constraints
- Work in at most 4 iterations.

## Delegation
- `file`: to find files
- review
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_claude_code_agent_file_loads_unchanged(tmp_path: Path) -> None:
    agent, problems = load_agent(_write(tmp_path, "code-reviewer", CLAUDE_CODE_AGENT))
    assert problems == []
    assert agent is not None
    assert agent.name == "code-reviewer"
    assert agent.description.startswith("Expert code review specialist. Proactively")
    assert agent.tools == ("file_read", "grep", "glob", "shell_exec")
    assert agent.model is None  # inherit: the parent's model
    assert agent.prompt.startswith("You are a senior code reviewer")


def test_memfun_sections_become_limits_and_edges(tmp_path: Path) -> None:
    agent, problems = load_agent(_write(tmp_path, "planner2", MEMFUN_AGENT))
    assert problems == [] and agent is not None
    assert agent.max_turns == 4
    assert agent.delegation == ("file", "review")
    assert agent.tools is None  # all the parent's tools


def test_maxturns_in_the_frontmatter_wins_over_the_constraints(tmp_path: Path) -> None:
    text = MEMFUN_AGENT.replace("description: Plans work.\n", "description: P.\nmaxTurns: 9\n")
    agent, _ = load_agent(_write(tmp_path, "planner2", text))
    assert agent is not None and agent.max_turns == 9


def test_broken_files_name_file_and_line(tmp_path: Path) -> None:
    no_description = _write(tmp_path, "a", "---\nname: a\ntools: Read\n---\nbody\n")
    bad_turns = _write(tmp_path, "b", "---\nname: b\ndescription: d\nmaxTurns: 0\n---\nx\n")
    bad_yaml = _write(tmp_path, "c", "---\nname: c\ndescription: [unclosed\n---\nx\n")
    bad_mode = _write(tmp_path, "d", "---\nname: d\ndescription: d\n\npermissionMode: yolo\n---\n")
    assert [str(p) for p in load_agent(no_description)[1]] == [
        f"{no_description}:2: `description` is required (when to hand work to this agent)"
    ]
    assert [str(p) for p in load_agent(bad_turns)[1]] == [
        f"{bad_turns}:4: `maxTurns` must be a whole number of at least 1"
    ]
    (problem,) = load_agent(bad_yaml)[1]
    assert str(problem).startswith(f"{bad_yaml}:") and "invalid YAML" in problem.message
    assert problem.line >= 3
    (mode,) = load_agent(bad_mode)[1]
    assert (mode.line, "permissionMode") == (5, mode.message.split("`")[1])


def test_the_built_in_specialists_load_and_the_read_only_ones_cannot_write(
    tmp_path: Path,
) -> None:
    catalog = AgentCatalog(
        agent_roots(mnemo_home=tmp_path, user_home=tmp_path, project_root=None, trusted=False)
    )
    agents = catalog.agents()
    assert catalog.problems == []
    expected = {"coder", "test", "debug", "review", "file", "security", "planner"}
    assert set(agents) == expected | {"web-search", "web-fetch"}
    writes = {"file_write", "file_edit", "apply_patch", "shell_exec"}
    for name in ("review", "planner", "security", "file", "web-search", "web-fetch"):
        assert not writes & set(agents[name].tools or ()), name
    assert set(agents["web-fetch"].tools or ()) == {"web_fetch", "file_read"}


def test_nearer_wins_and_untrusted_project_agents_are_not_offered(tmp_path: Path) -> None:
    mnemo_home, user, work = tmp_path / "mh", tmp_path / "user", tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    _write(user / ".claude/agents", "review", "---\nname: review\ndescription: mine\n---\nu\n")
    _write(mnemo_home / "agents", "review", "---\nname: review\ndescription: mnemo\n---\nm\n")
    _write(work / ".claude/agents", "review", "---\nname: review\ndescription: repo\n---\np\n")
    _write(work / ".claude/agents", "evil", "---\nname: evil\ndescription: x\n---\npwn\n")

    def catalog(trusted: bool, notices: list[str]) -> AgentCatalog:
        return open_agents(
            workdir=work, mnemo_home=mnemo_home, user_home=user, env={}, trusted=trusted,
            notices=notices,
        )  # fmt: skip

    notices: list[str] = []
    untrusted = catalog(False, notices)
    assert untrusted.get("review").description == "mnemo"  # type: ignore[union-attr]
    assert "evil" not in untrusted.agents()
    assert notices and "project agents not loaded (evil, review)" in notices[0]
    trusted = catalog(True, [])
    assert trusted.get("review").description == "repo"  # type: ignore[union-attr]
    assert trusted.get("evil") is not None
    assert {a.description for a in trusted.shadowed if a.name == "review"} >= {"mnemo", "mine"}
