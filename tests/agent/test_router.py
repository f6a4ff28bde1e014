"""The router: the auto pick, forced strategies, escalation with what was learnt,
rollback (and keep) of a failed rung's edits, per-rung accounting — on a real App
(guarded tools, checkpoints, git) with the scripted model."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from mnemocode.agent.loop import Emit
from mnemocode.agent.router import Router, classify
from mnemocode.agent.strategies import Attempt, DirectStrategy, Learnt, RungResult, StrategyRegistry
from mnemocode.app import App, build_app
from mnemocode.config.settings import ModelConfig, RouterConfig, Settings
from mnemocode.core.errors import ConfigError
from mnemocode.core.events import AgentEvent, Escalated, StrategyChosen, TurnFinished, TurnStarted
from mnemocode.core.types import ToolCall
from mnemocode.llm.testing import ScriptedModel, Turn, text, tool_call
from mnemocode.safety.approvers import StaticApprover
from mnemocode.tools.base import FunctionToolset

ORIGINAL = "def add(a, b):\n    return a - b\n"


def repo(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "calc.py").write_text(ORIGINAL)
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run(["git", "add", "."], cwd=work, check=True)
    return work


def make_app(
    work: Path, home: Path, script: list[Turn], **router: str
) -> tuple[App, ScriptedModel]:
    model = ScriptedModel(script)
    settings = Settings(
        models={"t": ModelConfig(model="scripted")},
        active_model="t",
        router=RouterConfig(**router),  # type: ignore[arg-type]
    )
    app = build_app(
        settings, cwd=work, home=home, approver=StaticApprover(True), env={}, model=model
    )
    return app, model


class BrokenRung:
    """A rung plugged in from outside (as workflow and rlm will be): it edits
    calc.py through the guarded tools, then fails its checks."""

    name = "workflow"

    def __init__(self, app: App) -> None:
        self.app = app
        self.runs = 0

    async def run(self, attempt: Attempt, emit: Emit) -> RungResult:
        self.runs += 1
        ctx = dataclasses.replace(self.app.agent.tool_context, turn=attempt.turn)
        call = ToolCall(
            "w1", "file_edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a * b"}
        )
        result = await self.app.guard.call(call, ctx)
        assert not result.is_error, result.text
        reason = "pytest: test_add failed (assert 6 == 5)"
        return RungResult(
            self.name,
            "could not make the tests pass",
            "checks_failing",
            failure="checks_failing",
            reason=reason,
            learnt=Learnt(
                self.name, reason, ("calc.py",), ("test_calc.py::test_add",), "-a - b\n+a * b"
            ),
        )


def with_broken_rung(app: App) -> BrokenRung:
    broken = BrokenRung(app)
    registry = StrategyRegistry([DirectStrategy(app.agent), broken])
    app.router = Router(
        app.agent, registry, app.settings.router, checkpoints=app.safety.checkpoints
    )
    app.router.set_mode("workflow")
    return broken


# ---- the auto pick ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "strategy"),
    [
        ("explain how the cache works", "direct"),
        ("Why does test_parse fail?", "direct"),
        ("can you explain the router?", "direct"),
        ("thanks!", "direct"),
        ("fix the bug in parser.py", "context"),
        ("The login test fails with KeyError. Fix it.", "context"),
        ("Can you add a --json flag to mnemo map?", "context"),
        ("how do I fix this?\n```\nfix everything\n```", "direct"),
        ("why?\n\n<stdin>\nadd stuff\n</stdin>", "direct"),
    ],
)
def test_auto_reads_the_task_without_a_model(task: str, strategy: str) -> None:
    assert classify(task).strategy == strategy


async def test_the_pick_and_its_reason_are_shown_and_counted(
    tmp_path: Path, isolated_home: Path
) -> None:
    app, model = make_app(repo(tmp_path), isolated_home, [text("It caches by path.")])
    events: list[AgentEvent] = []
    finished = await app.run_turn("explain how the cache works", events.append)
    chosen = [e for e in events if isinstance(e, StrategyChosen)]
    assert chosen == [StrategyChosen("direct", "a question, not a change request")]
    kinds = [type(e) for e in events if isinstance(e, TurnStarted | StrategyChosen | TurnFinished)]
    assert kinds == [TurnStarted, StrategyChosen, TurnFinished]
    assert finished.text == "It caches by path." and len(model.requests) == 1
    (rung,) = finished.extra["rungs"]
    assert rung["strategy"] == "direct" and rung["outcome"] == "ok"
    assert rung["model_calls"] == 1 and rung["input_tokens"] > 0
    assert app.router is not None
    assert app.router.ledger.by_strategy["direct"].model_calls == 1


async def test_a_forced_strategy_is_said_and_an_unknown_one_refused(
    tmp_path: Path, isolated_home: Path
) -> None:
    app, _model = make_app(
        repo(tmp_path), isolated_home, [text("changed nothing")], strategy="direct"
    )
    events: list[AgentEvent] = []
    await app.run_turn("fix the bug in calc.py", events.append)
    assert StrategyChosen("direct", "chosen by the user", forced=True) in events
    assert app.router is not None
    with pytest.raises(ConfigError, match="no strategy 'rlm'"):
        app.router.set_mode("rlm")
    assert app.router.mode == "direct"


# ---- escalation ------------------------------------------------------------------------


async def test_a_failed_rung_escalates_to_direct_with_what_it_learnt(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = repo(tmp_path)
    script = [
        tool_call("file_edit", path="calc.py", old_string="a - b", new_string="a + b"),
        text("Fixed: add now adds."),
    ]
    app, model = make_app(work, isolated_home, script)
    broken = with_broken_rung(app)
    events: list[AgentEvent] = []
    finished = await app.run_turn("make add add", events.append)

    assert broken.runs == 1
    escalated = [e for e in events if isinstance(e, Escalated)]
    assert escalated == [
        Escalated("workflow", "direct", "pytest: test_add failed (assert 6 == 5)", rolled_back=True)
    ]
    first = model.requests[0].messages[-1].text
    assert first.startswith("make add add")
    assert "pytest: test_add failed (assert 6 == 5)" in first
    assert "test_calc.py::test_add" in first and "-a - b\n+a * b" in first
    assert "rolled back" in first
    # The failed rung's edit was undone before the direct loop started from the original.
    assert (work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert finished.text == "Fixed: add now adds." and finished.stop_reason == "end_turn"
    rungs = finished.extra["rungs"]
    assert [(r["strategy"], r["outcome"], r["rolled_back"]) for r in rungs] == [
        ("workflow", "checks_failing", True),
        ("direct", "ok", False),
    ]
    # One turn in the conversation: the user message once, then the answer.
    users = [m for m in app.agent.history if m.role == "user"]
    assert len(users) == 1 and app.agent.turns == 1
    assert app.agent.history[-1].text == "Fixed: add now adds."

    # Undo of the turn puts the file back as it was before the turn.
    said = app.undo_last_turn()
    assert "restored 1 file(s)" in said
    assert (work / "calc.py").read_text() == ORIGINAL


async def test_keep_leaves_the_failed_rungs_edits_for_the_next(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = repo(tmp_path)
    script = [
        tool_call("file_edit", path="calc.py", old_string="a * b", new_string="a + b"),
        text("Fixed the multiplication."),
    ]
    app, model = make_app(work, isolated_home, script, on_failure="keep")
    with_broken_rung(app)
    events: list[AgentEvent] = []
    await app.run_turn("make add add", events.append)
    assert Escalated("workflow", "direct", "pytest: test_add failed (assert 6 == 5)") in events
    assert "(kept)" in model.requests[0].messages[-1].text
    assert (work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    app.undo_last_turn()
    assert (work / "calc.py").read_text() == ORIGINAL


async def test_the_failed_strategy_is_not_run_again_for_the_task(
    tmp_path: Path, isolated_home: Path
) -> None:
    app, _model = make_app(repo(tmp_path), isolated_home, [text("one"), text("two")])
    broken = with_broken_rung(app)
    finished = await app.run_turn("make add add", lambda _e: None)
    assert broken.runs == 1
    assert [r["strategy"] for r in finished.extra["rungs"]] == ["workflow", "direct"]
    assert isinstance(finished, TurnFinished) and finished.text == "one"
    # A new task starts at the forced rung again.
    await app.run_turn("and again", lambda _e: None)
    assert broken.runs == 2


async def test_auto_keeps_a_change_request_direct_when_no_tool_can_edit(
    tmp_path: Path, isolated_home: Path
) -> None:
    app, _model = make_app(repo(tmp_path), isolated_home, [text("I can only read.")])
    registry = StrategyRegistry([DirectStrategy(app.agent), ReadOnlyRung()])
    app.router = Router(app.agent, registry, RouterConfig())
    app.agent.toolset = FunctionToolset([])
    events: list[AgentEvent] = []
    await app.run_turn("fix the bug in calc.py", events.append)
    (chosen,) = [e for e in events if isinstance(e, StrategyChosen)]
    assert chosen.strategy == "direct" and "no tool here edits files" in chosen.reason


class ReadOnlyRung:
    """Registered as context; never run here."""

    name = "context"

    async def run(self, attempt: Attempt, emit: Emit) -> RungResult:
        raise AssertionError("the context rung must not run without edit tools")


@pytest.mark.parametrize(("window", "strategy"), [(8_000, "direct"), (32_000, "context")])
async def test_auto_keeps_a_small_window_model_on_the_tool_loop(
    tmp_path: Path, isolated_home: Path, window: int, strategy: str
) -> None:
    """A 4k–8k local model cannot hold the solver's one request; auto says why."""
    model = ScriptedModel([text("Done.")] * 4)
    settings = Settings(
        models={"t": ModelConfig(model="scripted", context_window=window)}, active_model="t"
    )
    app = build_app(
        settings,
        cwd=repo(tmp_path),
        home=isolated_home,
        approver=StaticApprover(True),
        env={},
        model=model,
    )
    chosen = app.router.pick("fix the bug in calc.py")
    assert chosen.strategy == strategy
    assert ("8,000-token window is too small" in chosen.reason) == (strategy == "direct")
