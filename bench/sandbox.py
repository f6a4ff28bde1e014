"""Per-command cost of the sandbox: the same command run plain (a process group, as
in bypass mode) and inside bubblewrap with the session's mount plan (in the warm
sandbox, and in a bwrap of its own), directly and
through the whole guard (policy → sandbox → redaction → audit) in ask and auto mode.

The fake home holds the usual credential stores, so the mount plan hides as much as
it would on a real machine; the work directory is a git repository with an embedded
one, so the plan's scan for embedded git directories has something to find.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.common import percentile
from mnemocode.config.settings import SafetyConfig
from mnemocode.core.protocols import CommandSpec, ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.approvers import StaticApprover
from mnemocode.safety.bubblewrap import BubblewrapSandbox, bwrap_path
from mnemocode.safety.confinement import Confinement
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.setup import build_safety
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import builtin_tools

RUNS = 60
COMMAND = "echo step"


def _world(root: Path) -> tuple[Path, Path]:
    home, work = root / "home", root / "work"
    for name in (".ssh", ".aws", ".config/gh", ".docker", ".kube", ".gnupg"):
        (home / name).mkdir(parents=True)
    for name in (".netrc", ".git-credentials", ".bash_history", ".pypirc"):
        (home / name).write_text("x\n")
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(["git", "init", "-q", str(work / "vendor" / "lib")], check=True)
    for i in range(200):
        folder = work / "src" / f"pkg{i % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i}.py").write_text("x = 1\n")
    return home, work


async def _time(step: Callable[[], Awaitable[object]]) -> list[float]:
    await step()  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        await step()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _row(name: str, times: list[float], base: list[float] | None) -> str:
    p50, p95 = percentile(times, 50), percentile(times, 95)
    extra = ""
    if base is not None:
        extra = f"+{p50 - percentile(base, 50):.1f} / +{p95 - percentile(base, 95):.1f}"
    return f"| {name} | {p50:.1f} | {p95:.1f} | {extra} |"


async def _measure(root: Path) -> list[str]:
    home, work = _world(root)
    plan = Confinement(workdir=work, home=home, mnemo_home=home / ".mnemo")
    plain, boxed = LocalSandbox(), BubblewrapSandbox(confinement=plan)
    cold = BubblewrapSandbox(confinement=plan, warm=False)
    spec = CommandSpec(COMMAND, work, env={"HOME": str(home)})
    rows: list[tuple[str, list[float], list[float] | None]] = []
    base = await _time(lambda: plain.run(spec))
    rows.append(("sandbox alone: plain process group", base, None))
    rows.append(
        ("sandbox alone: warm bubblewrap (default)", await _time(lambda: boxed.run(spec)), base)
    )
    rows.append(
        (
            "sandbox alone: a bwrap per command (`sandbox_warm = false`)",
            await _time(lambda: cold.run(spec)),
            base,
        )
    )
    plan_times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        list(plan.read_only())
        list(plan.hidden_paths())
        plan.absent_protected()
        plan_times.append((time.perf_counter() - start) * 1000)

    guarded: dict[str, list[float]] = {}
    for mode, command in (("bypass", COMMAND), ("ask", COMMAND), ("auto", "mkdir -p out")):
        safety = build_safety(
            SafetyConfig(mode=mode),  # type: ignore[arg-type]
            inner=FunctionToolset(builtin_tools()),
            approver=StaticApprover(False),
            workdir=work,
            user_home=home,
            mnemo_home=home / ".mnemo",
            state_dir=root / "state" / mode,
            env={},
        )
        ctx = ToolContext(cwd=work, sandbox=safety.sandbox, session_id=f"bench-{mode}")
        call = ToolCall("c", "shell_exec", {"command": command})

        async def step(safety=safety, ctx=ctx, call=call) -> object:  # type: ignore[no-untyped-def]
            result = await safety.guard.call(call, ctx)
            assert not result.is_error, result.text
            return result

        guarded[mode] = await _time(step)
    rows.append(("guarded step, bypass (no sandbox)", guarded["bypass"], None))
    rows.append((f"guarded step, ask (`{COMMAND}`, read-only)", guarded["ask"], guarded["bypass"]))
    rows.append(("guarded step, auto (`mkdir -p out`)", guarded["auto"], guarded["bypass"]))
    lines = [_row(name, times, b) for name, times, b in rows]
    lines.append(
        f"| mount plan alone (scan for embedded repos, hidden stores) | "
        f"{percentile(plan_times, 50):.2f} | {percentile(plan_times, 95):.2f} | |"
    )
    for box in (boxed, cold):
        await box.aclose()
    return lines


def run() -> str:
    head = "## Sandbox: cost per command\n\n"
    if bwrap_path() is None:
        return head + "bubblewrap is not installed here: nothing measured.\n"
    root = Path(tempfile.mkdtemp(prefix="mnemo-bench-sandbox-", dir="/var/tmp"))
    try:
        rows = asyncio.run(_measure(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return (
        head + f"`{COMMAND}` run {RUNS} times after a warm-up, in milliseconds. "
        "The guarded steps include the policy, checkpoint check, redaction and the audit "
        "write; the last column is the cost over the row it is compared with "
        "(plain process group, or the bypass step).\n\n"
        "| path | p50 ms | p95 ms | over baseline p50 / p95 |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )
