"""Shell-command analysis: agreement with the labels of OpenAI Codex CLI's own tests
(``tests/data/codex_safety_cases.json``, the whole corpus, vendored with its licence)
and classification time per command.

The scoring and the explained disagreements live in
``tests/safety/test_codex_corpus.py`` (the test fails on any new disagreement); the
adversarial commands timed here are those of ``tests/safety/test_shell_adversarial.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

from tests.safety.test_codex_corpus import (
    HOME,
    KNOWN_DISAGREEMENTS,
    THRESHOLD,
    WORKDIR,
    Judged,
    judge,
    load_cases,
)
from tests.safety.test_shell_adversarial import CATASTROPHIC, RISKY

from bench.common import ROOT, percentile
from mnemocode.safety.shell import analyse_command

RUNS = 5  # timed runs per command, after one warm-up run


def _label(judged: Judged) -> str:
    case = judged.case
    parts = []
    if case["expected_safe"] is not None:
        parts.append("safe" if case["expected_safe"] else "not safe")
    if case["expected_dangerous"] is not None:
        parts.append("dangerous" if case["expected_dangerous"] else "not dangerous")
    sources = sorted({label["source"] for label in case["labels"]})
    return f"{', '.join(parts)} ({' '.join(sources)})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "⏎")


def _share(items: list[Judged], attribute: str) -> str:
    hits, total = sum(bool(getattr(j, attribute)) for j in items), len(items)
    return f"{hits}/{total} ({hits / total:.1%})" if total else "0/0"


def agreement_section(judged: list[Judged]) -> list[str]:
    scored = [j for j in judged if not j.conflict]
    conflicts = [j for j in judged if j.conflict]
    safe = [j for j in scored if j.safe_agrees is not None]
    safe_true = [j for j in safe if j.case["expected_safe"]]
    safe_false = [j for j in safe if not j.case["expected_safe"]]
    dangerous = [j for j in scored if j.dangerous_agrees is not None]
    dangerous_true = [j for j in dangerous if j.case["expected_dangerous"]]
    dangerous_false = [j for j in dangerous if not j.case["expected_dangerous"]]
    actions = Counter(j.verdict.action for j in judged)
    lines = [
        "### Agreement with the Codex corpus",
        "",
        f"{len(judged)} commands; {len(conflicts)} where Codex's own versions disagree are "
        f"listed apart. Test threshold: {THRESHOLD:.0%} of the others.",
        "How labels map: `expected_safe` true = we `allow`, false = we do not; "
        "`expected_dangerous` (Codex asks even when it would otherwise run freely) "
        "true = we do not `allow`, false = we do not `deny` (our only class stricter "
        "than ask). A case agrees when all its labels do.",
        "",
        "| measure | agreement |",
        "|---|---|",
    ]
    rows = [
        ("**all non-conflicting cases**", f"**{_share(scored, 'agrees')}**"),
        ("`expected_safe` labels", _share(safe, "safe_agrees")),
        ("— safe (we allow)", _share(safe_true, "safe_agrees")),
        ("— not safe (we ask or deny)", _share(safe_false, "safe_agrees")),
        ("`expected_dangerous` labels", _share(dangerous, "dangerous_agrees")),
        ("— dangerous (we ask or deny)", _share(dangerous_true, "dangerous_agrees")),
        ("— not dangerous (we do not deny)", _share(dangerous_false, "dangerous_agrees")),
    ]
    lines += [f"| {name} | {value} |" for name, value in rows]
    lines += [
        "",
        f"Our verdicts over all {len(judged)}: "
        + ", ".join(f"{actions[a]} {a}" for a in ("allow", "ask", "deny")),
        "",
        "Every disagreement, and why:",
        "",
        "| command | Codex says | we say | why we differ |",
        "|---|---|---|---|",
    ]
    for j in scored:
        if not j.agrees:
            why = KNOWN_DISAGREEMENTS.get(j.command, "**unexplained — a regression**")
            ours = f"{j.verdict.action} (`{j.verdict.rule}`)"
            lines.append(f"| `{_cell(j.command)}` | {_label(j)} | {ours} | {why} |")
    lines += [
        "",
        "The label conflicts (not scored): newer Codex asks for every git command and no "
        "longer treats `git reset` as dangerous.",
        "",
        "| command | Codex labels | we say |",
        "|---|---|---|",
    ]
    for j in conflicts:
        labels = "; ".join(
            dict.fromkeys(
                f"{label['source']}: safe={label['expected_safe']}, "
                f"dangerous={label['expected_dangerous']}"
                for label in j.case["labels"]
            )
        )
        ours = f"{j.verdict.action} (`{j.verdict.rule}`)"
        lines.append(f"| `{_cell(j.command)}` | {labels} | {ours} |")
    return lines


def _time_commands(commands: list[str]) -> list[float]:
    for command in commands:  # warm-up: parser, regexes, caches
        analyse_command(command, cwd=WORKDIR, home=HOME)
    samples = []
    for _ in range(RUNS):
        for command in commands:
            start = time.perf_counter()
            analyse_command(command, cwd=WORKDIR, home=HOME)
            samples.append(time.perf_counter() - start)
    return samples


def _cold_first_call() -> float:
    code = (
        "import time; t = time.perf_counter(); "
        "from pathlib import Path; from mnemocode.safety.shell import analyse_command; "
        "analyse_command('git status', cwd=Path('/w'), home=Path('/h')); "
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(5)
    ]
    return sorted(runs)[len(runs) // 2]


def timing_section(corpus: list[str]) -> list[str]:
    adversarial = CATASTROPHIC + RISKY
    rows = [
        ("Codex corpus", _time_commands(corpus)),
        ("adversarial suite", _time_commands(adversarial)),
    ]
    rows.append(("all", rows[0][1] + rows[1][1]))
    lines = [
        "### Classification time per command",
        "",
        f"`analyse_command` in-process, {RUNS} timed runs of each command after one warm-up "
        f"({len(corpus)} corpus + {len(adversarial)} adversarial commands); "
        "parse + analysis, nothing is run.",
        "",
        "| commands | samples | p50 (µs) | p99 (µs) | max (µs) |",
        "|---|---|---|---|---|",
    ]
    for name, samples in rows:
        p50, p99, top = (percentile(samples, q) * 1e6 for q in (50, 99, 100))
        lines.append(f"| {name} | {len(samples)} | {p50:.0f} | {p99:.0f} | {top:.0f} |")
    cold = _cold_first_call()
    lines += [
        "",
        f"First call in a fresh process (imports the analyser, loads tree-sitter-bash, "
        f"parses `git status`): median of 5, {cold * 1000:.1f} ms.",
    ]
    return lines


def run() -> str:
    cases = load_cases()
    judged = [judge(case) for case in cases]
    lines = ["## Shell-command analysis", ""]
    lines += agreement_section(judged)
    lines += [""]
    lines += timing_section([str(case["command"]) for case in cases])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m bench.safety_shell
    os.chdir(ROOT)
    print(run())
