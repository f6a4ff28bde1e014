"""Single steps: gather's caps, a cut-off answer, which tests verify picks."""

from __future__ import annotations

from pathlib import Path

from mnemocode.agent.solver.checks import affected_tests, detect
from mnemocode.config.settings import SolverConfig
from mnemocode.core.events import SolverStep
from mnemocode.core.types import Message
from mnemocode.llm.testing import Turn, call, calls
from tests.agent.solver.harness import make_repo, rig
from tests.agent.solver.test_pipeline import FIX, OK


async def test_gather_caps_each_file_and_says_what_was_cut(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    (work / "big.py").write_text("".join(f"X{i} = {i}\n" for i in range(400)))
    config = SolverConfig(gather_tokens=4_000, gather_file_tokens=200)
    r = rig(tmp_path, work, [calls(FIX), OK], config=config)
    outcome = await r.run("fix add")
    assert outcome.ok, outcome.reason
    prompt = r.model.requests[0].messages[-1].text
    assert "big.py: cut to" in prompt and "(per-file cap)" in prompt
    assert "X399" not in prompt and "X1 = 1" in prompt
    gather = [e for e in r.events if isinstance(e, SolverStep) and e.step == "gather"]
    assert "big.py: cut to" in gather[-1].detail


async def test_a_cut_off_solve_is_truncated(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    r = rig(tmp_path, work, [Turn(text="I will", finish_reason="length")])
    outcome = await r.run("fix add")
    assert outcome.failure == "truncated"
    assert outcome.model_calls == 1


def test_verify_picks_the_tests_importing_a_changed_module(tmp_path: Path) -> None:
    files = {
        "src/shop/cart.py": "",
        "src/shop/price.py": "",
        "tests/test_cart.py": "from shop.cart import Cart\n",
        "tests/test_price.py": "from shop import price\n",
        "tests/test_other.py": "import json\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    every = sorted(files)
    assert affected_tests(tmp_path, ["src/shop/cart.py"], every) == ["tests/test_cart.py"]
    assert affected_tests(tmp_path, ["src/shop/price.py"], every) == ["tests/test_price.py"]
    assert affected_tests(tmp_path, ["tests/test_other.py"], every) == ["tests/test_other.py"]
    # No ruff or mypy config here: only pytest is run.
    assert [c.name for c in detect(tmp_path, ["src/shop/cart.py"], every)] == ["pytest"]


async def test_a_solve_that_does_not_fit_the_window_is_context_overflow(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    r = rig(tmp_path, work, [calls(FIX), OK], context_window=200)
    outcome = await r.run("fix add")
    assert outcome.failure == "context_overflow"
    assert "fit the model's context window" in outcome.reason
    assert outcome.model_calls == 0 and r.model.requests == []


async def test_files_a_command_changed_are_verified(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    script = "printf 'import os\\n' > helper.py"
    script_turns = [calls(FIX, call("run", command=script)), calls()]
    r = rig(tmp_path, work, script_turns, config=SolverConfig(fix_cycles=1))
    outcome = await r.run("fix add and add helper.py")
    assert (work / "helper.py").read_text() == "import os\n"
    fix_prompt = r.model.requests[1].messages[-1].text
    assert "helper.py" in fix_prompt and "F401" in fix_prompt
    assert outcome.failure == "checks_failing"


async def test_the_solve_call_sees_the_conversation_and_what_was_learnt(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    r = rig(tmp_path, work, [calls(FIX), OK])
    history = [Message.user("add is in calc.py"), Message.assistant("Noted.")]
    outcome = await r.solver.run(
        "fix add", r.events.append, history=history, learnt="<mnemo-escalation>x</mnemo-escalation>"
    )
    assert outcome.ok, outcome.reason
    messages = r.model.requests[0].messages
    assert [m.text for m in messages[:2]] == ["add is in calc.py", "Noted."]
    assert "<mnemo-escalation>x</mnemo-escalation>" in messages[-1].text
