"""Strategies in the front ends: the pick shown in the REPL, ``/strategy``,
``/cost`` by strategy, ``--strategy`` and the headless JSON rungs (real
subprocesses against the fake OpenAI-compatible server)."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text
from tests.cli.repl_harness import repl_session, settings
from tests.conftest import run_mnemo, write_global_config


def _config(url: str, extra: str = "") -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n{extra}'
    )


async def test_the_repl_shows_the_pick_and_its_reason(tmp_path: Path) -> None:
    async with repl_session(
        tmp_path, ["It caches by path."], config=settings(strategy="auto")
    ) as s:
        s.send("explain how the cache works\n")
        await s.wait_for("It caches by path.")
    assert "→ direct (auto: a question, not a change request)" in s.output
    assert s.output.index("→ direct") < s.output.index("It caches by path.")


async def test_slash_strategy_forces_one_for_the_session(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["nothing to change"], config=settings(strategy="auto")) as s:
        s.send("/strategy\n")
        await s.wait_for("the tool loop")
        assert "● auto" in s.output
        s.send("/strategy rlm\n")
        await s.wait_for("no strategy 'rlm'")
        s.send("/strategy direct\n")
        await s.wait_for("strategy: direct for this session")
        s.send("fix the bug in calc.py\n")
        await s.wait_for("nothing to change")
        s.send("/strategy\n")
        await s.wait_for("last turn: direct (forced: chosen by the user)")
        assert s.app.router is not None and s.app.router.mode == "direct"


async def test_cost_shows_each_strategy(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["one", "two"]) as s:
        s.send("hi\n")
        await s.wait_for("one")
        s.send("what now?\n")
        await s.wait_for("two")
        s.send("/cost\n")
        await s.wait_for("by strategy:")
        await s.wait_for("time")
    row = next(line for line in s.output.splitlines() if line.startswith("direct "))
    assert row.split()[:4] == ["direct", "2", "0", "2"]  # runs, failed, calls


def test_headless_json_reports_the_rungs(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("It caches by path.")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(
            ["-p", "explain the cache", "--output-format", "json"], cwd=tmp_path, home=isolated_home
        )
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["strategy"] == "direct"
    (rung,) = record["rungs"]
    assert rung["strategy"] == "direct" and rung["outcome"] == "ok"
    assert rung["model_calls"] == 1 and rung["input_tokens"] == record["usage"]["input_tokens"]
    assert rung["duration_s"] >= 0 and rung["rolled_back"] is False


def test_strategy_flag_forces_and_stream_json_says_so(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("done")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(
            ["-p", "fix the bug", "--strategy", "direct", "--output-format", "stream-json"],
            cwd=tmp_path,
            home=isolated_home,
        )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    picked = [e for e in events if e["type"] == "strategy"]
    assert picked == [
        {"type": "strategy", "strategy": "direct", "reason": "chosen by the user", "forced": True}
    ]
    finished = next(e for e in events if e["type"] == "turn_finished")
    assert [r["strategy"] for r in finished["extra"]["rungs"]] == ["direct"]


def test_an_unknown_strategy_is_a_usage_error(tmp_path: Path, isolated_home: Path) -> None:
    write_global_config(isolated_home, _config("http://127.0.0.1:9"))
    proc = run_mnemo(["-p", "hi", "--strategy", "fastest"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 2
    assert "router.strategy: Input should be 'auto', 'direct' or 'context'" in proc.stderr


def test_verbose_text_says_the_pick_on_stderr(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("It caches by path.")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(["-p", "explain the cache", "-v"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "It caches by path.\n"
    assert "mnemo: → direct (auto: a question, not a change request)" in proc.stderr
