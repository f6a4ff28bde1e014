"""Auto mode on the everyday-command list (tests/data/everyday_commands.txt):
real policies from build_policy, a real work directory and a fake home. With the
sandbox confining commands, at most 5 of the 50 are refused; without it only
read-only commands run, and the whitelist alone still covers at least 45."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from mnemocode.config.settings import SafetyConfig
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.policy import SafetyPolicy
from mnemocode.safety.rules import Rule
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.setup import build_policy
from mnemocode.safety.shell import analyse_command
from tests.safety.test_rules import BYPASSES, PLAIN

LIST = Path(__file__).parents[1] / "data" / "everyday_commands.txt"


def everyday() -> list[str]:
    lines = LIST.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nSECRET\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = SECRET\n")
    for folder in ("src", "tests", "sub"):
        (work / folder).mkdir(parents=True)
    for name in ("a.py", "README.md", "notes.txt", "a.tar", "a.zip", "run.sh"):
        (work / name).write_text("x\n")
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    return home, work


def make_policy(world: tuple[Path, Path], *, sandbox: bool, mode: str = "auto") -> SafetyPolicy:
    home, work = world
    kind = "bubblewrap" if sandbox else "local"
    config = SafetyConfig(mode=mode, sandbox_ask=kind, sandbox_auto=kind)  # type: ignore[arg-type]
    policy = build_policy(
        config,
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=home / ".mnemo" / "projects" / "p",
    )
    assert policy.confined == sandbox  # bubblewrap is installed where the tests run
    return policy


def decide(policy: SafetyPolicy, command: str, cwd: Path) -> str:
    ctx = ToolContext(cwd=cwd, sandbox=LocalSandbox())
    call = ToolCall("c", "shell_exec", {"command": command})
    return policy.decide(call, None, ctx).action


def test_the_list_holds_fifty_commands_with_the_ones_the_issue_names() -> None:
    commands = everyday()
    assert len(commands) == 50 == len(set(commands))
    for named in ["pytest 2>&1 | tail -20", "timeout 300 pytest", "chmod +x run.sh && ./run.sh"]:
        assert named in commands


def test_sandboxed_auto_mode_refuses_at_most_five(world: tuple[Path, Path]) -> None:
    policy, work = make_policy(world, sandbox=True), world[1]
    refused = [c for c in everyday() if decide(policy, c, work) == "deny"]
    print(f"\nsandboxed auto mode refuses {len(refused)}/50: {refused}")
    assert len(refused) <= 5, refused
    assert "npm install" in refused  # it needs the network, which auto mode does not give


def test_without_a_sandbox_the_whitelist_covers_45_and_only_reads_run(
    world: tuple[Path, Path],
) -> None:
    home, work = world
    policy = make_policy(world, sandbox=False)
    covered, reads, allowed = [], [], []
    for command in everyday():
        verdict = analyse_command(command, cwd=work, home=home)
        argvs = [shlex.split(c) for c in verdict.commands]
        if verdict.action == "allow" or policy.rules.whitelisted(argvs, workdir=work, cwd=work):
            covered.append(command)
        if verdict.action == "allow" and not verdict.network:
            reads.append(command)
        if decide(policy, command, work) == "allow":
            allowed.append(command)
    print(
        f"\nwithout a sandbox: whitelist + read-only cover {len(covered)}/50, "
        f"auto mode runs {len(allowed)}/50 (the read-only ones)"
    )
    assert len(covered) >= 45, sorted(set(everyday()) - set(covered))
    assert allowed == reads
    assert "pytest" not in allowed  # unconfined, model-written code does not run unasked


@pytest.mark.parametrize("command", BYPASSES)
def test_sandboxed_auto_mode_refuses_each_whitelist_bypass(
    world: tuple[Path, Path], command: str
) -> None:
    assert decide(make_policy(world, sandbox=True), command, world[1]) == "deny"


@pytest.mark.parametrize("command", PLAIN)
def test_sandboxed_auto_mode_runs_the_plain_forms(world: tuple[Path, Path], command: str) -> None:
    assert decide(make_policy(world, sandbox=True), command, world[1]) == "allow"


@pytest.mark.parametrize(
    ("saved", "attempt"),
    [("git push origin main", "git push origin main --force"), ("pytest -q", "pytest -q -p evil")],
)
def test_an_always_rule_does_not_cover_further_arguments(
    world: tuple[Path, Path], saved: str, attempt: str
) -> None:
    work = world[1]
    policy = make_policy(world, sandbox=False, mode="ask")
    policy.rules.add(Rule("shell_exec", "project", prefix=saved, directory=str(work)))
    assert decide(policy, saved, work) == "allow"
    assert decide(policy, attempt, work) == "ask"
