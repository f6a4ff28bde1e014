"""Solver cost: model calls, prompt and completion tokens and wall time per task,
the context-first solver (``--strategy context``) against the direct tool loop
(``--strategy direct``) on the same scripted change tasks (``bench/solver_tasks.py``).

Each run is the real CLI, ``mnemo -p TASK --yes --output-format json --strategy S``,
in a subprocess, in a fresh git repository in a temporary folder with its own
MNEMO_HOME, against the fake OpenAI-compatible server (mnemocode.llm.testing)
replaying the task's script. Tokens are counted with o200k_base on what crossed
the wire: prompt tokens over each request's messages and tool schemas as the server
received them, completion tokens over the scripted answers.

    .venv/bin/python -m bench.solver_cost
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT
from bench.solver_tasks import TASKS, Task
from mnemocode.llm.testing import FakeOpenAIServer, Turn
from mnemocode.llm.tokens import count_tokens

STRATEGIES = ("direct", "context")


@dataclass
class Outcome:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    wall_s: float
    ok: bool
    rungs: str = ""  # the rungs that ran, with their outcomes
    note: str = ""


def _completion_tokens(turns: list[Turn], used: int) -> int:
    total = 0
    for turn in turns[:used]:
        total += count_tokens(turn.text) + count_tokens(turn.reasoning)
        total += sum(count_tokens(c.name + c.arguments_json()) for c in turn.tool_calls)
    return total


def _prompt_tokens(body: Any) -> int:
    if not isinstance(body, dict):
        return 0
    sent = json.dumps(body.get("messages", []), ensure_ascii=False)
    sent += json.dumps(body.get("tools", []), ensure_ascii=False)
    return count_tokens(sent)


def _rungs(stdout: str) -> str:
    """``"context review_failed → direct ok"`` from the headless JSON result."""
    try:
        record = json.loads(stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return "no result"
    rungs = record.get("rungs") or []
    return " → ".join(f"{r.get('strategy')} {r.get('outcome')}" for r in rungs)


def run_task(task: Task, strategy: str, tmp: Path) -> Outcome:
    root, home = tmp / "repo", tmp / "home"
    root.mkdir()
    home.mkdir()
    task.lay_out(root)
    turns = task.direct() if strategy == "direct" else task.context()
    with FakeOpenAIServer(turns) as server:
        (home / "config.toml").write_text(
            'active_model = "fake"\n[models.fake]\nprovider = "openai"\n'
            f'model = "fake-model"\nbase_url = "{server.base_url}"\nmax_retries = 0\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
        env |= {"MNEMO_HOME": str(home), "NO_COLOR": "1"}
        argv = [sys.executable, "-m", "mnemocode", "-p", task.prompt, "--yes"]
        argv += ["--output-format", "json", "--strategy", strategy]
        started = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        wall = time.perf_counter() - started
        requests = server.chat_requests
    note = ""
    if proc.returncode != 0:
        note = (proc.stderr.strip().splitlines() or ["exit " + str(proc.returncode)])[-1]
    rungs = _rungs(proc.stdout)
    return Outcome(
        calls=len(requests),
        prompt_tokens=sum(_prompt_tokens(r.body) for r in requests),
        completion_tokens=_completion_tokens(turns, len(requests)),
        wall_s=wall,
        ok=proc.returncode == 0
        and len(requests) == len(turns)
        and rungs == f"{strategy} ok"
        and task.done(root),
        rungs=rungs,
        note=note,
    )


def measure() -> list[tuple[Task, dict[str, Outcome]]]:
    rows = []
    for task in TASKS:
        outcomes = {}
        for strategy in STRATEGIES:
            with tempfile.TemporaryDirectory(prefix="mnemo-bench-solver-") as tmp:
                outcomes[strategy] = run_task(task, strategy, Path(tmp))
        rows.append((task, outcomes))
    return rows


def _cell(o: Outcome) -> str:
    mark = "" if o.ok else " ✗"
    return f"{o.calls}{mark} | {o.prompt_tokens:,} | {o.completion_tokens:,} | {o.wall_s:.1f}"


def section(rows: list[tuple[Task, dict[str, Outcome]]]) -> str:
    lines = [
        "## Solver cost: context-first against the direct loop",
        "",
        "Five scripted change tasks on small real repositories (`bench/solver_tasks.py`), "
        "each run through `mnemo -p … --yes --output-format json --strategy S` against "
        "the fake OpenAI-compatible server. **The scripts are the model's answers**, "
        "written as a plausible model would act: direct reads, edits, runs the tests "
        "and answers (parallel tool calls where a model would make them); context "
        "answers the plan (when the solver asks for one), the solve and the review. "
        "Files, git, the tools, ruff and pytest are real, and each task checks its end "
        "state. Tokens: o200k_base over what the server received (messages and tool "
        "schemas of every request) and over the scripted answers. Wall time includes "
        "the CLI start-up and the real checks (the solver's verify step runs ruff and "
        "the tests on the changed files). ✗: the run did not end with the task done.",
        "",
        "| task | direct calls | prompt tok | completion tok | wall s "
        "| context calls | prompt tok | completion tok | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    totals = {s: [0, 0, 0, 0.0] for s in STRATEGIES}
    for task, outcomes in rows:
        cells = " | ".join(_cell(outcomes[s]) for s in STRATEGIES)
        lines.append(f"| {task.name} | {cells} |")
        for s in STRATEGIES:
            o = outcomes[s]
            totals[s][0] += o.calls
            totals[s][1] += o.prompt_tokens
            totals[s][2] += o.completion_tokens
            totals[s][3] += o.wall_s
    total_cells = " | ".join(
        f"**{int(c)}** | **{int(p):,}** | **{int(t):,}** | **{w:.1f}**"
        for c, p, t, w in totals.values()
    )
    lines.append(f"| total | {total_cells} |")
    notes = [
        f"- {task.name}, {s}: {outcomes[s].rungs}; {outcomes[s].note}"
        for task, outcomes in rows
        for s in STRATEGIES
        if not outcomes[s].ok
    ]
    if notes:
        lines += ["", "Runs that failed:", "", *notes]
    return "\n".join(lines) + "\n"


def run() -> str:
    return section(measure())


if __name__ == "__main__":
    os.chdir(ROOT)
    print(run())
