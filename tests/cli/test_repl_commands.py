"""Slash commands in a real REPL session."""

from __future__ import annotations

from pathlib import Path

from mnemocode.config.settings import ModelConfig
from mnemocode.core.types import Usage
from mnemocode.llm.testing import FakeOpenAIServer, Turn
from tests.cli.repl_harness import repl_session, settings


async def test_help_lists_every_command(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/help\n")
        await s.wait_for("leave mnemo", count=2)
    for name in [
        "/help",
        "/status",
        "/model [alias]",
        "/tools",
        "/clear",
        "/btw <question>",
        "/cost",
        "/quit",
        "/exit",
    ]:
        assert name in s.output


async def test_unknown_command_suggests(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/hepl\n")
        await s.wait_for("unknown command /hepl — did you mean /help?")
        assert not s.task.done()


async def test_status_shows_model_mode_and_instructions(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "AGENTS.md").write_text("Use tabs.\n")
    async with repl_session(tmp_path, ["hello"]) as s:
        s.send("hi\n")
        await s.wait_for("hello")
        s.send("/status\n")
        await s.wait_for("instructions")
    out = s.output
    assert "test (scripted, openai)" in out
    assert "provider default" in out
    assert "mode" in out and "ask" in out
    assert str(tmp_path / "work" / "AGENTS.md") in out
    assert "1 (2 messages in history)" in out


async def test_tools_lists_tools_with_read_only_marks(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/tools\n")
        await s.wait_for("read-only tools run without asking")
    lines = s.output.splitlines()
    read_line = next(line for line in lines if line.startswith("file_read"))
    write_line = next(line for line in lines if line.startswith("file_write"))
    assert "read-only" in read_line
    assert "asks" in write_line and "Create or overwrite a whole file" in write_line


async def test_clear_empties_history(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["first answer", "second answer"]) as s:
        s.send("one\n")
        await s.wait_for("first answer")
        assert len(s.app.agent.history) == 2
        s.send("/clear\n")
        await s.wait_for("Conversation cleared.")
        assert s.app.agent.history == []
        s.send("two\n")
        await s.wait_for("second answer")
    assert [m.text for m in s.model.requests[1].messages] == ["two"]


async def test_cost_shows_session_totals(tmp_path: Path) -> None:
    priced = ModelConfig(model="scripted", input_price=1.0, output_price=2.0)
    script = [Turn(text="answer", usage=Usage(1_000_000, 500_000))]
    async with repl_session(tmp_path, script, config=settings(test=priced)) as s:
        s.send("go\n")
        await s.wait_for("answer")
        s.send("/cost\n")
        await s.wait_for("output tokens")
        await s.wait_for("cost")
    out = s.output
    assert "1,000,000" in out and "500,000" in out
    assert "$2.00" in out  # 1M in at $1/M + 0.5M out at $2/M


async def test_cost_without_price_says_so(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/cost\n")
        await s.wait_for("no price known")
    assert "model calls" in s.output


async def test_model_lists_aliases_with_active_marked(tmp_path: Path) -> None:
    config = settings(other=ModelConfig(model="gpt-other", base_url="http://127.0.0.1:9/v1"))
    async with repl_session(tmp_path, [], config=config) as s:
        s.send("/model\n")
        await s.wait_for("/model <alias> switches")
    lines = s.output.splitlines()
    assert any(line.startswith("●") and "test" in line for line in lines)
    assert any(
        "other" in line and "gpt-other" in line and not line.startswith("●") for line in lines
    )


async def test_model_switch_with_missing_key_keeps_current_model(tmp_path: Path) -> None:
    remote = ModelConfig(model="gpt-x", api_key_env="MNEMO_TEST_MISSING_KEY")
    async with repl_session(tmp_path, ["still here"], config=settings(remote=remote)) as s:
        s.send("/model remote\n")
        await s.wait_for("still using test")
        assert s.app.model_alias == "test"
        s.send("hello\n")
        await s.wait_for("still here")  # the scripted model still answers
    line = next(line for line in s.output.splitlines() if "cannot switch" in line)
    assert "remote" in line and "MNEMO_TEST_MISSING_KEY" in line
    assert not (s.home / "config.toml").exists()  # nothing saved


async def test_model_switch_to_unreachable_endpoint_keeps_current_model(tmp_path: Path) -> None:
    down = ModelConfig(model="m", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=5)
    async with repl_session(tmp_path, [], config=settings(down=down)) as s:
        s.send("/model down\n")
        await s.wait_for("still using test")
    assert s.app.model_alias == "test"
    assert not (s.home / "config.toml").exists()


async def test_model_switch_that_works_is_used_and_saved(tmp_path: Path) -> None:
    with FakeOpenAIServer(["ok", "from the fake server"], model="fake-model") as server:
        local = ModelConfig(model="fake-model", base_url=server.base_url, max_retries=0)
        async with repl_session(tmp_path, [], config=settings(local=local)) as s:
            s.send("/model local\n")
            await s.wait_for("now using local (fake-model)")
            assert s.app.model_alias == "local"
            s.send("hello\n")
            await s.wait_for("from the fake server")
    assert len(server.requests) == 2  # the probe, then the turn
    assert server.requests[1].messages[-1]["content"] in (
        "hello",
        [{"type": "text", "text": "hello"}],
    )
    assert 'active_model = "local"' in (s.home / "config.toml").read_text()
    assert s.model.requests == []


async def test_model_unknown_alias(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/model nope\n")
        await s.wait_for("no model named 'nope'")
    assert s.app.model_alias == "test"


async def test_btw_sees_the_conversation_runs_no_tools_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with repl_session(tmp_path, ["main answer", "side answer"]) as s:
        s.send("main question\n")
        await s.wait_for("main answer")
        history = list(s.app.agent.history)
        s.send("/btw what did I ask?\n")
        await s.wait_for("side answer")
        assert s.app.agent.history == history
    main, side = s.model.requests
    assert [m.text for m in side.messages[:2]] == ["main question", "main answer"]
    assert side.messages[-1].text.startswith("what did I ask?")
    assert side.tool_choice == "none"  # the tools are there (same prompt prefix), unused
    assert side.system == main.system and side.tools == main.tools
    assert s.app.agent.totals.model_calls == 2


async def test_btw_without_question_shows_usage(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/btw\n")
        await s.wait_for("usage: /btw <question>")
    assert s.model.requests == []


async def test_exit_command(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/exit\n")
        assert await s.finish() == 0
