"""Smaller REPL things: /permissions, /cost after /end, /tools descriptions, /model
seeing a config edited meanwhile, the retry line, the status line's context."""

from __future__ import annotations

import re
from pathlib import Path

from prompt_toolkit.formatted_text import fragment_list_to_text, to_formatted_text

from mnemocode.cli.commands.tools import first_sentence
from mnemocode.config.settings import ModelConfig
from mnemocode.core.types import Usage
from mnemocode.llm.testing import FakeOpenAIServer, Turn
from tests.cli.repl_harness import Session, repl_session, settings


def toolbar(s: Session) -> str:
    bar = s.repl.session.bottom_toolbar
    assert callable(bar)
    return fragment_list_to_text(to_formatted_text(bar()))


async def test_permissions_says_rules_come_from_the_always_answer(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/permissions\n")
        await s.wait_for("/permissions remove N")
    assert "answer '!' to a question" in s.output
    assert "answer 'a'" not in s.output


async def test_cost_after_end_is_the_new_session(tmp_path: Path) -> None:
    priced = ModelConfig(model="scripted", input_price=1.0, output_price=2.0)
    script = [Turn(text="answer", usage=Usage(1_000_000, 500_000))]
    async with repl_session(tmp_path, script, config=settings(test=priced)) as s:
        s.send("go\n")
        await s.wait_for("answer")
        s.send("/end\n")
        await s.wait_for("new session")
        s.send("/cost\n")
        await s.wait_for("cost ")
    after = s.output.split("new session", 1)[1]
    assert "1,000,000" not in after and "$2.00" not in after
    assert "model calls" in after


def test_tool_descriptions_are_cut_at_a_sentence_not_inside_one() -> None:
    glob = 'Find files by glob pattern (e.g. "**/*.py"), newest first; honours .gitignore.'
    assert first_sentence(glob) == glob
    assert first_sentence("Create a file. Prefer file_edit.") == "Create a file."
    long = "word " * 60
    cut = first_sentence(long)
    assert cut.endswith("…") and not cut[:-1].endswith(" wor")


async def test_model_sees_an_alias_added_to_the_config_meanwhile(tmp_path: Path) -> None:
    with FakeOpenAIServer(["ok"], model="late-model") as server:
        async with repl_session(tmp_path, []) as s:
            (s.home / "config.toml").write_text(
                f'[models.late]\nprovider = "openai"\nmodel = "late-model"\n'
                f'base_url = "{server.base_url}"\nmax_retries = 0\n'
            )
            s.send("/model\n")
            await s.wait_for("/model <alias> switches")
            assert "late-model" in s.output
            s.send("/model late\n")
            await s.wait_for("now using late (late-model)")


async def test_status_line_shows_the_context_of_the_conversation(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["an answer " * 200]) as s:
        before = toolbar(s)
        s.send("a question\n")
        await s.wait_for("an answer")
        await s.until(lambda: toolbar(s) != before, "the status line to change")
        line = toolbar(s)
    assert re.search(r" context \d+(\.\d)?k?/\d+k? ", line), line
    assert before.split(" context ")[1].split("/")[0] != line.split(" context ")[1].split("/")[0]
