"""Auto mode on the everyday-command list (``tests/data/everyday_commands.txt``):
how many of the 50 it refuses with the bubblewrap sandbox confining commands and
without it, and which. Real policies from ``build_policy``, a temporary work
directory and home; nothing is run. ``tests/safety/test_everyday_commands.py``
holds the limits (at most 5 refused with the sandbox)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.safety.test_everyday_commands import everyday

from bench.common import ROOT
from mnemocode.config.settings import SafetyConfig
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.setup import build_policy


def _refused(base: Path, *, sandbox: bool) -> tuple[list[str], bool]:
    home, work = base / "home", base / "work"
    kind = "bubblewrap" if sandbox else "local"
    policy = build_policy(
        SafetyConfig(mode="auto", sandbox_auto=kind),
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=base / ("state-" + kind),
    )
    ctx = ToolContext(cwd=work, sandbox=LocalSandbox())
    refused = [
        command
        for command in everyday()
        if policy.decide(ToolCall("c", "shell_exec", {"command": command}), None, ctx).action
        == "deny"
    ]
    return refused, policy.confined


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for folder in ("home", "work/src", "work/tests"):
            (base / folder).mkdir(parents=True)
        for name in ("a.py", "README.md", "notes.txt", "a.tar", "a.zip", "run.sh"):
            (base / "work" / name).write_text("x\n")
        confined, is_confined = _refused(base, sandbox=True)
        bare, _ = _refused(base, sandbox=False)
    total = len(everyday())
    sandbox_row = "bubblewrap" if is_confined else "bubblewrap (not installed: not confined)"
    lines = [
        "## Auto mode on everyday commands",
        "",
        f"{total} commands from `tests/data/everyday_commands.txt` (`bench/safety_everyday.py`);"
        " a refusal is auto mode's `deny` (it never asks).",
        "",
        "| sandbox | refused | runs | refused commands |",
        "|---|---:|---:|---|",
        f"| {sandbox_row} | {len(confined)} | {total - len(confined)} | "
        + (", ".join(f"`{c}`" for c in confined) or "—")
        + " |",
        f"| none | {len(bare)} | {total - len(bare)} | all but the read-only ones |",
        "",
        "Without a sandbox auto mode runs only read-only commands; the whitelist's checked"
        " flags decide what else runs inside the sandbox. The issue counted 47 refusals"
        " before (prefix whitelist, no sandbox).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m bench.safety_everyday
    os.chdir(ROOT)
    print(run())
