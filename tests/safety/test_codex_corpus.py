"""The shell analyser against the labels OpenAI Codex CLI's own unit tests assert
(150 commands, ``tests/data/codex_safety_cases.json``; source and licence in
``tests/data/NOTICE``).

How a Codex label maps onto our verdict:

- ``expected_safe`` True: Codex runs it without asking, so we must ``allow``;
  False: Codex does not treat it as known-safe, so we must not ``allow``.
- ``expected_dangerous`` True: Codex asks even where it would otherwise run
  commands freely ("needs approval"); we agree when we do not ``allow`` it.
  False: Codex asserts it is *not* in that extra-approval class; our only class
  beyond "ask" is ``deny``, so we agree when we do not deny it.

A case agrees when every label it has agrees. The 8 ``label_conflict`` cases
(Codex changed its policy between versions) are reported apart and not scored.
``bench/safety_shell.py`` imports this module to write the same numbers into
``bench/RESULTS.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mnemocode.safety.shell import ShellVerdict, analyse_command

CORPUS = Path(__file__).resolve().parents[1] / "data" / "codex_safety_cases.json"
WORKDIR = Path("/work/project")
HOME = Path("/home/user")

# Threshold: at least 95% of the non-conflicting cases agree. Every disagreement
# below is deliberate and explained (we are stricter nowhere Codex allows, and
# more permissive only where the command provably only reads); 136 of 142 agree
# today (95.8%). The exact-set assertion in test_every_disagreement_is_known is
# what catches a regression; the threshold guards against the allowlist growing.
THRESHOLD = 0.95

# Every case where we deliberately disagree with Codex, with the reason.
KNOWN_DISAGREEMENTS: dict[str, str] = {
    # Codex's parser accepts only plain word sequences joined by && || ; |, so any
    # subshell makes it ask. We parse subshells; their contents are read-only.
    "bash -lc '(ls)'": "a subshell around a read-only command is still read-only",
    "bash -lc 'ls || (pwd && echo hi)'": (
        "a subshell around read-only commands is still read-only"
    ),
    # Only the newer policy (S2) labels these: it asks for *every* git command.
    # The older policy (S1) and ours allow read-only git subcommands with flag
    # checks; `-p` (show the patch) writes nothing and runs no program.
    "git diff -p": "S2 asks for all git commands; `git diff -p` only reads",
    "git log -p -1": "S2 asks for all git commands; `git log -p` only reads",
    "git show -p HEAD": "S2 asks for all git commands; `git show -p` only reads",
    "bash -lc 'git log -p -1'": "S2 asks for all git commands; `git log -p` only reads",
}


@dataclass(frozen=True, slots=True)
class Judged:
    case: dict[str, Any]
    verdict: ShellVerdict
    safe_agrees: bool | None  # None when the case has no expected_safe label
    dangerous_agrees: bool | None

    @property
    def command(self) -> str:
        return str(self.case["command"])

    @property
    def conflict(self) -> bool:
        return bool(self.case["label_conflict"])

    @property
    def agrees(self) -> bool:
        return self.safe_agrees is not False and self.dangerous_agrees is not False


def load_cases() -> list[dict[str, Any]]:
    data = json.loads(CORPUS.read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = data["cases"]
    return cases


def judge(case: dict[str, Any]) -> Judged:
    verdict = analyse_command(case["command"], cwd=WORKDIR, home=HOME)
    safe, dangerous = case["expected_safe"], case["expected_dangerous"]
    safe_agrees = None if safe is None else (verdict.action == "allow") == safe
    dangerous_agrees = None
    if dangerous is True:
        dangerous_agrees = verdict.action != "allow"
    elif dangerous is False:
        dangerous_agrees = verdict.action != "deny"
    return Judged(case, verdict, safe_agrees, dangerous_agrees)


@pytest.fixture(scope="module")
def judged() -> list[Judged]:
    return [judge(case) for case in load_cases()]


def test_corpus_shape(judged: list[Judged]) -> None:
    assert len(judged) == 150
    assert sum(j.conflict for j in judged) == 8


def test_agreement_above_threshold(judged: list[Judged]) -> None:
    scored = [j for j in judged if not j.conflict]
    agreement = sum(j.agrees for j in scored) / len(scored)
    assert agreement >= THRESHOLD, f"{agreement:.1%} < {THRESHOLD:.0%}"


def test_every_disagreement_is_known(judged: list[Judged]) -> None:
    found = {j.command: f"{j.verdict.action} {j.verdict.rule}" for j in judged}
    disagreements = {j.command for j in judged if not j.conflict and not j.agrees}
    unexplained = {c: found[c] for c in disagreements - KNOWN_DISAGREEMENTS.keys()}
    assert not unexplained, "new disagreements with Codex (fix, or explain them above)"
    fixed = KNOWN_DISAGREEMENTS.keys() - disagreements
    assert not fixed, f"these now agree; remove them from KNOWN_DISAGREEMENTS: {fixed}"


def test_every_dangerous_command_needs_approval(judged: list[Judged]) -> None:
    dangerous = [j for j in judged if j.case["expected_dangerous"] is True]
    assert len(dangerous) >= 10
    assert all(j.verdict.action != "allow" for j in dangerous)


def test_forced_removal_of_root_is_denied(judged: list[Judged]) -> None:
    by_command = {j.command: j.verdict for j in judged}
    assert by_command["rm -rf /"].action == "deny"
    assert by_command["rm -f /"].action == "deny"
    assert by_command["bash -lc 'ls && rm -rf /'"].action == "deny"
