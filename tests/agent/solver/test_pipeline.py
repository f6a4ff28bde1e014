"""The context-first solver end to end: real files, git, ruff, mypy, pytest and
the sandbox; the scripted model is the only fake. Each path's model calls counted."""

from __future__ import annotations

from pathlib import Path

from mnemocode.config.settings import SolverConfig
from mnemocode.llm.testing import Turn, call, calls, tool_call
from tests.agent.solver.harness import CALC, Approvals, make_repo, rig

FIX = call("edit", path="calc.py", old_string="return a - b", new_string="return a + b")
OK = tool_call("submit_review", verdict="ok", problems=[])


async def test_small_repo_happy_path_costs_two_calls(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    r = rig(tmp_path, work, [calls(FIX, text="add now adds."), OK])
    outcome = await r.run("fix add in calc.py: it subtracts")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == r.calls() == 2
    assert (work / "calc.py").read_text() == "def add(a: int, b: int) -> int:\n    return a + b\n"
    assert (
        outcome.summary == "edit calc.py · ruff passed · mypy passed · pytest 1 passed · review ok"
    )
    assert ("plan", "skipped") in r.steps()
    assert "-    return a - b" in outcome.diff and "+    return a + b" in outcome.diff
    # The solve call got the files directly.
    solve_request = r.model.requests[0]
    assert "def test_add" in solve_request.messages[-1].text
    assert outcome.files_read == ["calc.py", "pyproject.toml", "tests/test_calc.py"]


async def test_the_whole_solve_is_one_undo_step(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    body = "from calc import add\n\n\ndef test_zero() -> None:\n    assert add(0, 0) == 0\n"
    test = call("write", path="tests/test_more.py", content=body)
    r = rig(tmp_path, work, [calls(FIX, test), OK])
    outcome = await r.run("fix add and add a test")
    assert outcome.ok, outcome.reason
    assert outcome.operations == ["edit calc.py", "write tests/test_more.py"]
    r.safety.checkpoints.end_turn("s1", 1)
    r.safety.checkpoints.undo("s1", 1)
    assert (work / "calc.py").read_text() == CALC
    assert not (work / "tests/test_more.py").exists()


async def test_large_repo_plans_first_three_calls(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    for i in range(30):
        (work / f"pkg/mod{i}.py").parent.mkdir(exist_ok=True)
        (work / f"pkg/mod{i}.py").write_text(f"def f{i}() -> int:\n    return {i}\n" * 40)
    plan = tool_call("submit_plan", files=[{"path": "calc.py"}], searches=["def add"],
                     approach="flip the operator")  # fmt: skip
    config = SolverConfig(gather_tokens=2_000)
    r = rig(tmp_path, work, [plan, calls(FIX), OK], config=config)
    outcome = await r.run("fix add: it subtracts")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == r.calls() == 3
    assert ("plan", "finished") in r.steps()
    solve_prompt = r.model.requests[1].messages[-1].text
    assert "return a - b" in solve_prompt and "calc.py:1:def add" in solve_prompt
    assert "mod7.py" not in solve_prompt
    assert outcome.files_read == ["calc.py"]


async def test_lint_error_is_fixed_in_one_cycle(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    sloppy = call("edit", path="calc.py", old_string="return a - b",
                  new_string="import os\n    return a + b")  # fmt: skip
    tidy = call("edit", path="calc.py", old_string="import os\n    return a + b",
                new_string="return a + b")  # fmt: skip
    r = rig(tmp_path, work, [calls(sloppy), calls(tidy), OK])
    outcome = await r.run("fix add")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == 3
    fix_prompt = r.model.requests[1].messages[-1].text
    assert "ruff" in fix_prompt and "F401" in fix_prompt
    assert ("fix", "finished") in r.steps()


async def test_a_test_that_cannot_be_fixed_fails_with_the_check_named(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    (work / "calc.py").write_text(CALC.replace("a - b", "a + b"))  # test_add passes before
    wrong = call("edit", path="calc.py", old_string="return a + b", new_string="return a * b")
    still = call("edit", path="calc.py", old_string="return a * b", new_string="return a * b + 0")
    again = call("edit", path="calc.py", old_string="return a * b + 0", new_string="return b * a")
    r = rig(tmp_path, work, [calls(wrong), calls(still), calls(again)])
    outcome = await r.run("fix add")
    assert not outcome.ok
    assert outcome.failure == "checks_failing"
    assert outcome.model_calls == 3  # solve + two fix cycles, no review
    assert any(c.startswith("pytest: ") and "test_add" in c for c in outcome.failing_checks)
    assert "pytest" in outcome.reason
    assert "+    return b * a" in outcome.diff


async def test_review_problems_are_polished(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    problems = tool_call("submit_review", verdict="problems", problems=["add a docstring to add"])
    doc = call("edit", path="calc.py", old_string="    return a + b",
               new_string='    """The sum."""\n    return a + b')  # fmt: skip
    r = rig(tmp_path, work, [calls(FIX), problems, calls(doc)])
    outcome = await r.run("fix add")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == 3
    assert '"""The sum."""' in (work / "calc.py").read_text()
    assert "add a docstring to add" in r.model.requests[2].messages[-1].text
    assert outcome.summary.endswith("review: 1 problem polished")
    assert [s for s, _ in r.steps()].count("verify") == 4  # started+finished, twice


async def test_an_unparsable_review_fails_closed(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    r = rig(tmp_path, work, [calls(FIX), Turn(text="looks good to me")])
    outcome = await r.run("fix add")
    assert not outcome.ok
    assert outcome.failure == "review_failed"
    assert outcome.model_calls == 2


async def test_invalid_solve_output_changes_nothing(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    bad = call("edit", path="calc.py", old_string="return a - b")  # no new_string
    r = rig(tmp_path, work, [calls(FIX, bad)])
    outcome = await r.run("fix add")
    assert outcome.failure == "invalid_output"
    assert "new_string" in outcome.reason
    assert (work / "calc.py").read_text() == CALC
    assert outcome.model_calls == 1


async def test_no_operations_is_invalid_output(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    r = rig(tmp_path, work, [Turn(text="I would change calc.py.")])
    outcome = await r.run("fix add")
    assert outcome.failure == "invalid_output"


async def test_a_denial_mid_solve_leaves_nothing_half_applied(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    test = call("write", path="tests/test_more.py", content="def test_x() -> None:\n    pass\n")
    r = rig(tmp_path, work, [calls(FIX, test)], approvals=Approvals(allow=1))
    outcome = await r.run("fix add and add a test")
    assert outcome.failure == "denied"
    assert "Denied by user" in outcome.reason
    assert (work / "calc.py").read_text() == CALC
    assert not (work / "tests/test_more.py").exists()
    assert outcome.diff == ""
    assert outcome.model_calls == 1


async def test_a_repository_already_failing_lint_does_not_loop(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    (work / "calc.py").write_text("import os\nimport sys\n\n\n" + CALC)
    r = rig(tmp_path, work, [calls(FIX), OK])
    outcome = await r.run("fix add")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == 2  # no fix cycle for the old unused imports
    assert "ruff passed (failing before too)" in outcome.summary
