"""A real project for the solver: git, ruff and mypy config, a test; the real
guarded built-in tools with checkpoints and the sandbox; the scripted model."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.loop import ModelSlot
from mnemocode.agent.solver import ContextSolver, SolveOutcome
from mnemocode.config.settings import SafetyConfig, SolverConfig
from mnemocode.core.events import AgentEvent, ModelCallFinished, SolverStep
from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest, ToolContext
from mnemocode.llm.testing import ScriptedModel, Turn
from mnemocode.safety.setup import Safety, build_safety
from mnemocode.tools.builtin import builtin_toolset

PYPROJECT = """[project]
name = "calc"
version = "0"

[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F"]

[tool.mypy]
strict = true
"""
CALC = """def add(a: int, b: int) -> int:
    return a - b
"""
TEST = """from calc import add


def test_add() -> None:
    assert add(2, 3) == 5
"""


def git(work: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=work, check=True, capture_output=True)


def make_repo(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    default = {"pyproject.toml": PYPROJECT, "calc.py": CALC, "tests/test_calc.py": TEST}
    for rel, content in (files if files is not None else default).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(content)
    git(work, "init", "-q")
    git(work, "add", ".")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    return work


@dataclass(slots=True)
class Approvals:
    """Allows the first ``allow`` questions, denies the rest."""

    allow: int = 1_000
    asked: list[ApprovalRequest] = field(default_factory=list)

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.asked.append(request)
        if len(self.asked) <= self.allow:
            return ApprovalDecision(True, by="user")
        return ApprovalDecision(False, "not that one", by="user")


@dataclass(slots=True)
class Rig:
    work: Path
    solver: ContextSolver
    model: ScriptedModel
    safety: Safety
    context: ToolContext
    events: list[AgentEvent] = field(default_factory=list)

    async def run(self, task: str) -> SolveOutcome:
        return await self.solver.run(task, self.events.append)

    def calls(self) -> int:
        return sum(isinstance(e, ModelCallFinished) for e in self.events)

    def steps(self) -> list[tuple[str, str]]:
        return [(e.step, e.status) for e in self.events if isinstance(e, SolverStep)]


def rig(
    tmp_path: Path,
    work: Path,
    script: list[Turn],
    *,
    config: SolverConfig | None = None,
    approvals: Approvals | None = None,
    context_window: int = 100_000,
) -> Rig:
    model = ScriptedModel(script)
    home = tmp_path / "home"
    safety = build_safety(
        SafetyConfig(mode="ask"),
        inner=builtin_toolset(),
        approver=approvals or Approvals(),
        workdir=work,
        user_home=home,
        mnemo_home=tmp_path / "mnemo",
        state_dir=tmp_path / "state",
        env={"HOME": str(home)},
    )
    context = ToolContext(
        cwd=work, sandbox=safety.sandbox, log_dir=tmp_path / "logs", session_id="s1", turn=1
    )
    solver = ContextSolver(
        slot=ModelSlot(model, context_window),
        toolset=safety.guard,
        tool_context=context,
        config=config or SolverConfig(),
        codemap=None,
        meter=TokenMeter(lambda s: len(s) // 4 + 1),
        system_prompt="You are mnemo.",
        checkpoints=safety.checkpoints,
    )
    return Rig(work, solver, model, safety, context)
