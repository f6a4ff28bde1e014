"""What an agent file's ``mcpServers`` and ``skills`` do: the MCP tools it gets are
its servers' (all of them, and no other server's), and the skills it names are
preloaded into its system prompt."""

from __future__ import annotations

from pathlib import Path

from mnemocode.extensions.agents.spec import load_agent
from mnemocode.llm.testing import text, tool_call
from tests.extensions.agents.test_task import PARENT, agent_file, by_system, requests_of
from tests.extensions.skills.support import session

AVAILABLE = [
    "file_read", "grep", "shell_exec",
    "mcp__git__status", "mcp__git__log", "mcp__time__now", "mcp__gitx__push",
]  # fmt: skip


def agent(tmp_path: Path, front: str) -> list[str]:
    path = tmp_path / "a.md"
    path.write_text(f"---\nname: a\ndescription: An agent.\n{front}---\nDo it.\n")
    found, problems = load_agent(path)
    assert found is not None, problems
    return found.allowed_tools(AVAILABLE)


def test_mcp_servers_give_exactly_those_servers_tools(tmp_path: Path) -> None:
    assert agent(tmp_path, "") == AVAILABLE  # no fields: every tool of the parent
    every = agent(tmp_path, "mcpServers: git\n")
    assert every == ["file_read", "grep", "shell_exec", "mcp__git__status", "mcp__git__log"]
    # `tools` names none of git's: mcpServers still brings them, and no other server's
    assert agent(tmp_path, "tools: Read\nmcpServers: [git]\n") == [
        "file_read", "mcp__git__status", "mcp__git__log",
    ]  # fmt: skip
    assert agent(tmp_path, "mcpServers: git\ndisallowedTools: mcp__git__log\n") == [
        "file_read", "grep", "shell_exec", "mcp__git__status",
    ]  # fmt: skip


async def test_named_skills_are_preloaded_into_the_agents_prompt(
    tmp_path: Path, isolated_home: Path
) -> None:
    folder = isolated_home / "skills" / "house-style"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: house-style\ndescription: Our style.\n---\nAlways use tabs. STYLE-MARK\n"
    )
    agent_file(isolated_home, "styler", "Read", "STYLER-2", extra="skills: house-style, nope\n")
    script = by_system({
        PARENT: [tool_call("task", agent="styler", prompt="check it"), text("checked")],
        "STYLER-2": [text("tabs everywhere")],
    })  # fmt: skip
    app, model = session(tmp_path, isolated_home, script)  # type: ignore[arg-type]
    assert (await app.run_turn("style check", lambda _e: None)).text == "checked"
    [request] = requests_of(model, "STYLER-2")
    system = "\n".join(b.text for b in request.system)
    assert "Always use tabs. STYLE-MARK" in system
    assert "(skill 'nope' is not installed)" in system
    parent_system = "\n".join(b.text for b in model.requests[0].system)
    assert "STYLE-MARK" not in parent_system  # listed for the parent, not preloaded
