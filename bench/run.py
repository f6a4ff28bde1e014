"""Run every benchmark and write bench/RESULTS.md (machine and date included).

.venv/bin/python bench/run.py            # all
.venv/bin/python bench/run.py startup    # some
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import git_rev, machine, now  # noqa: E402

ALL = ["startup", "overhead", "prompt_size", "safety_shell", "checkpoints"]


def main(argv: list[str]) -> None:
    os.chdir(ROOT)
    names = argv or ALL
    sections = []
    for name in names:
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(f"bench.{name}")
        section = module.run()
        print(section)
        sections.append(section)
    results = ROOT / "bench" / "RESULTS.md"
    header = (
        "# Benchmark results\n\n"
        f"Machine: {machine()}  \nDate: {now()}  \nCommit: {git_rev()}  \n"
        "Command: `.venv/bin/python bench/run.py`\n\n"
    )
    results.write_text(header + "\n".join(sections), encoding="utf-8")
    print(f"wrote {results}")


if __name__ == "__main__":
    main(sys.argv[1:])
