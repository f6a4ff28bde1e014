"""Step 4, verify: no model call. Runs the project's checks for the changed files
in the sandbox, with a timeout, and keeps only the failures that are new — the
baseline is the same checks run before the edit, so a repository that already
fails lint does not send the solver into a loop."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mnemocode.agent.solver.checks import Check, detect
from mnemocode.core.protocols import CommandSpec, Sandbox

MAX_FAILURE_LINES = 40
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")
_PASSED = re.compile(r"\b(\d+) passed\b")


def _lines(output: str) -> Counter[str]:
    """Diagnostics without their numbers: an error that only moved lines is the same."""
    return Counter(_NUMBERS.sub("#", line.strip()) for line in output.splitlines() if line.strip())


@dataclass(frozen=True, slots=True)
class CheckRun:
    check: Check
    exit_code: int | None
    output: str
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return not self.timed_out and self.exit_code in self.check.ok_codes


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    passed: bool  # no new failures
    new: tuple[str, ...] = ()  # the new failure lines, as printed
    already_failing: bool = False
    detail: str = ""  # "6 passed" for pytest

    def words(self) -> str:
        if not self.passed:
            return f"{self.name} failed"
        extra = f" {self.detail}" if self.detail else " passed"
        note = " (failing before too)" if self.already_failing else ""
        return f"{self.name}{extra}{note}"

    def one_line(self) -> str:
        first = self.new[0] if self.new else "failed"
        return f"{self.name}: {first}"


@dataclass(slots=True)
class Verifier:
    root: Path
    sandbox: Sandbox
    timeout_s: float
    all_files: Sequence[str]
    baseline: dict[str, Counter[str]] = field(default_factory=dict)

    async def take_baseline(self, targets: Sequence[str]) -> None:
        """Before the edit: the checks of the files about to change, as they are."""
        for check in detect(self.root, targets, self.all_files):
            if check.name in self.baseline:
                continue
            run = await self.run(check)
            self.baseline[check.name] = Counter() if run.passed else _lines(run.output)

    async def run(self, check: Check) -> CheckRun:
        spec = CommandSpec(check.command, cwd=self.root, timeout_s=self.timeout_s)
        result = await self.sandbox.run(spec)
        return CheckRun(check, result.exit_code, result.output, result.timed_out)

    async def verify(self, changed: Sequence[str]) -> list[Verdict]:
        verdicts = []
        for check in detect(self.root, changed, self.all_files):
            verdicts.append(self._judge(await self.run(check)))
        return verdicts

    def _judge(self, run: CheckRun) -> Verdict:
        name = run.check.name
        passed = _PASSED.search(run.output) if name == "pytest" else None
        detail = f"{passed.group(1)} passed" if passed else ""
        if run.passed:
            return Verdict(name, True, detail=detail)
        if run.timed_out:
            return Verdict(name, False, (f"timed out after {self.timeout_s:g}s",))
        before = self.baseline.get(name, Counter())
        new_keys = _lines(run.output) - before
        if not new_keys:
            return Verdict(name, True, already_failing=True, detail=detail)
        shown = [
            line.strip()
            for line in run.output.splitlines()
            if _NUMBERS.sub("#", line.strip()) in new_keys or line.startswith(("FAILED ", "ERROR "))
        ]
        # pytest's own one-line summaries name the failing tests: they go first.
        named = [line for line in shown if line.startswith(("FAILED ", "ERROR "))]
        named += [line for line in shown if line not in named]
        return Verdict(name, False, tuple(named[:MAX_FAILURE_LINES]))


def failures_text(verdicts: Sequence[Verdict]) -> str:
    parts = []
    for verdict in verdicts:
        if not verdict.passed:
            parts.append(f"{verdict.name} (new failures):\n" + "\n".join(verdict.new))
    return "\n\n".join(parts)
