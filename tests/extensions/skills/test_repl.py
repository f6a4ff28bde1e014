"""Skills in the real REPL (pipe input, scripted model): ``/name args`` sends the
body with $ARGUMENTS and $1 put in, /skills lists them, /help shows the argument
hint, a ``user-invocable: false`` skill has no command, /context has its own line."""

from __future__ import annotations

from pathlib import Path

from mnemocode.config.settings import SkillsConfig
from mnemocode.llm.testing import text
from tests.cli.repl_harness import repl_session, settings
from tests.extensions.skills.support import write_skill


def _skills(tmp_path: Path) -> None:
    root = tmp_path / "home" / "skills"
    write_skill(
        root,
        "changelog",
        "Write a changelog entry.",
        "Changelog for $1, covering: $ARGUMENTS.\n",
        extra='argument-hint: "<version> [topics]"\n',
    )
    write_skill(root, "background", "Model-only helper.", extra="user-invocable: false\n")


async def test_slash_name_args_sends_the_body_as_the_turn(tmp_path: Path) -> None:
    _skills(tmp_path)
    async with repl_session(tmp_path, [text("entry written")]) as s:
        s.send("/help\n")
        await s.wait_for("/changelog <version> [topics]")
        assert "/background" not in s.output
        s.send("/changelog 2.0 'the login fix'\n")
        await s.wait_for("entry written")
        sent = s.model.requests[-1].messages[-1].text
        assert "Changelog for 2.0, covering: 2.0 'the login fix'." in sent
        assert '<skill name="changelog"' in sent
        s.send("/skills\n")
        await s.wait_for("Model-only helper.")
        assert "/changelog <version> [topics]  (user)" in s.output
        assert "/ask <question>  (builtin)" in s.output


async def test_context_reports_the_skills_listing_on_its_own_line(tmp_path: Path) -> None:
    _skills(tmp_path)
    async with repl_session(tmp_path, []) as s:
        s.send("/context\n")
        await s.wait_for("of which skills (names and descriptions)")
    off = settings()
    off.skills = SkillsConfig(enabled=False)
    async with repl_session(tmp_path, [], config=off) as s:
        s.send("/context\n")
        await s.wait_for("tool schemas")
        assert "of which skills" not in s.output
        s.send("/skills\n")
        await s.wait_for("skills are off in this session")
