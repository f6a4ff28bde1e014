"""`mnemo --version` and `--help` must not import the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("openai", "anthropic", "httpx", "prompt_toolkit", "rich.markdown", "tiktoken", "pydantic")


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        f"sys.argv = ['mnemo', *{args!r}]\n"
        "from mnemocode.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def test_version_imports_nothing_heavy() -> None:
    loaded = _modules_after(["--version"])
    assert not {m for m in loaded if m.split(".")[0] in {"typer", "click", *HEAVY}}


def test_help_imports_no_sdk() -> None:
    loaded = _modules_after(["--help"])
    heavy = {
        m
        for m in loaded
        if m in HEAVY or m.split(".")[0] in {"openai", "anthropic", "httpx", "tiktoken"}
    }
    assert not heavy, heavy
