"""Run the benchmarks and write bench/RESULTS.md (machine and date included).

.venv/bin/python bench/run.py            # all: RESULTS.md rewritten
.venv/bin/python bench/run.py startup    # some: only their sections replaced
.venv/bin/python bench/run.py --data ~/eval-data memory_recall

The larger data sets written by others (LoCoMo ``locomo10.json``, aider's whole
``aider-editblock/`` corpus) are read from ``--data <folder>``, by default
``../shared/eval-data/`` beside the clone. A benchmark whose data is not there is
left out with a message, and its section in RESULTS.md stays as it was.

Each benchmark returns one Markdown section starting with a ``## `` heading. When
only some run, the existing RESULTS.md keeps every other section as it was; a
section whose heading is already there is replaced in place, a new one appended.
The header describes the latest run and, after partial ones, which sections each
re-ran and the date and commit of the full run the others come from.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Instead of bench/ itself: bench/mcp.py would shadow the `mcp` SDK.
sys.path[0] = str(ROOT)

from bench.common import MissingDataError, git_rev, machine, now, take_data_option  # noqa: E402

ALL = [
    "startup",
    "overhead",
    "prompt_size",
    "safety_shell",
    "editblock",
    "safety_everyday",
    "sandbox",
    "checkpoints",
    "memory_recall",
    "memory_latency",
    "runtime",
    "codemap",
    "localisation",
    "solver_cost",
    "step_gap",
    "mcp",
    "extensions",
]
RESULTS = ROOT / "bench" / "RESULTS.md"
FULL_COMMAND = ".venv/bin/python bench/run.py"
_FIELD = re.compile(r"^(Date|Commit): (.*?)\s*$", re.MULTILINE)
_UPDATE = re.compile(r"^- (\d{4}-\d\d-\d\d .*?, commit .*?: `.*)$", re.MULTILINE)
_BASE_LEAD = "from the full run of"
_BASE = re.compile(rf"^All other sections: {_BASE_LEAD} (.*)\.$", re.MULTILINE)


def split_sections(text: str) -> tuple[str, list[str]]:
    """``text`` → (what comes before the first ``## `` heading, the sections).
    Lines inside fenced code blocks never start a section."""
    header: list[str] = []
    sections: list[list[str]] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append([])
        (sections[-1] if sections else header).append(line)
    return "\n".join(header), ["\n".join(s) for s in sections]


def heading(section: str) -> str:
    return section.lstrip().splitlines()[0].strip() if section.strip() else ""


def merge(old_sections: list[str], new_sections: list[str]) -> list[str]:
    merged = list(old_sections)
    for section in new_sections:
        titles = [heading(s) for s in merged]
        if heading(section) in titles:
            merged[titles.index(heading(section))] = section
        else:
            merged.append(section)
    return merged


def make_header(names: list[str], partial: bool, previous_header: str) -> str:
    """The header of RESULTS.md. After a partial run it also says where each
    section came from: one line per partial run since the last full one (newest
    first; a section named twice is from the newest), then the full run."""
    command = FULL_COMMAND + "".join(f" {n}" for n in names) if partial else FULL_COMMAND
    date, rev = now(), git_rev()
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}  ",
        f"Date: {date}  ",
        f"Commit: {rev}  ",
        f"Command: `{command}`",
    ]
    if partial:
        earlier = _UPDATE.findall(previous_header)
        base = _BASE.search(previous_header)
        if base is None:  # the previous results came from one full run
            fields = dict(_FIELD.findall(previous_header))
            when, commit = fields.get("Date", "an earlier run"), fields.get("Commit", "?")
            base_text = f"{when}, commit {commit}"
        else:
            base_text = base[1]
        ran = ", ".join(f"`{n}`" for n in names)
        lines += ["", "Sections re-run since the last full run (newest first):", ""]
        lines.append(f"- {date}, commit {rev}: {ran}")
        lines += [f"- {line}" for line in earlier]
        lines += ["", f"All other sections: {_BASE_LEAD} {base_text}."]
    return "\n".join(lines) + "\n\n"


def main(argv: list[str]) -> None:
    os.chdir(ROOT)
    argv = take_data_option(argv)
    names = argv or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(ALL)})")
    sections, ran = [], []
    for name in names:
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(f"bench.{name}")
        try:
            section = module.run()
        except MissingDataError as exc:
            print(f"left out {name}: {exc}", file=sys.stderr)
            continue
        print(section)
        sections.append(section)
        ran.append(name)
    if not ran:
        sys.exit("no benchmark ran")
    old_header, old_sections = "", []
    if (argv or ran != names) and RESULTS.exists():
        old_header, old_sections = split_sections(RESULTS.read_text(encoding="utf-8"))
    merged = merge(old_sections, sections)
    partial = len(merged) > len(sections)
    body = "\n".join(s.rstrip() + "\n" for s in merged)
    RESULTS.write_text(make_header(ran, partial, old_header) + body, encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
