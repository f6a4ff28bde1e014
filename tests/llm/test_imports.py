"""Importing the model layer must not load the heavy SDKs."""

from __future__ import annotations

import subprocess
import sys


def test_importing_llm_does_not_import_sdks() -> None:
    code = (
        "import sys, mnemocode.llm, mnemocode.llm.testing, mnemocode.llm.factory;"
        "heavy = ('openai', 'anthropic', 'tiktoken', 'httpx2');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
