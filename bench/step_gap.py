"""Per-step overhead against the peers: ``../shared/peerbench`` run side by side.

The harness is others' (``../shared/peerbench``, read its README): three agents —
mnemo, mini-swe-agent and memocode — each run the same 50 ``echo step N`` tool
steps against an instrumented fake OpenAI-compatible server, interleaved over three
rounds after the machine's load has dropped. The gap is the server's arrival of
request i+1 minus its completion of request i: the agent's own time per step, the
tool run included, with checkpoints and the sandbox on (mnemo's defaults).

This section runs ``setup.sh`` (venvs under ``$PEERBENCH_DIR``, default
``/tmp/peerbench``; mnemo is ``pip install``-ed from this checkout) and
``run_all.sh``, then copies the figures from its ``summary.md``. A finished run can
be reused with ``PEERBENCH_RESULTS=<results dir>``.
Target (issue 11): mnemo's gap p50 at most 8 ms.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.common import ROOT, MissingDataError

PEERBENCH = ROOT.parent / "shared" / "peerbench"
ROWS = ("gap_p50", "gap_p95", "ttfr_s", "connections", "first_sys_plus_tools_tokens")


def _results() -> Path:
    given = os.environ.get("PEERBENCH_RESULTS")
    if given:
        return Path(given)
    if not (PEERBENCH / "run_all.sh").exists():
        raise MissingDataError(f"{PEERBENCH} (the shared peerbench harness) is not there")
    base = Path(os.environ.get("PEERBENCH_DIR", "/tmp/peerbench"))
    env = {**os.environ, "PEERBENCH_DIR": str(base), "MNEMO_SRC": str(ROOT)}
    subprocess.run(["bash", str(PEERBENCH / "setup.sh")], check=True, env=env, cwd=ROOT)
    out = base / "results-bench"
    subprocess.run(["bash", str(PEERBENCH / "run_all.sh"), str(out)], check=True, env=env)
    return out


def _table(summary: str, title: str) -> list[str]:
    """The Markdown table under ``## title`` in peerbench's summary."""
    lines = summary.splitlines()
    start = lines.index(f"## {title}") + 1
    table: list[str] = []
    for line in lines[start:]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return table


def run() -> str:
    summary = (_results() / "summary.md").read_text(encoding="utf-8")
    per_agent = _table(summary, "Per agent (median over rounds)")
    kept = per_agent[:2] + [r for r in per_agent[2:] if r.split("|")[1].strip() in ROWS]
    ratios = [line for line in summary.splitlines() if line.startswith("mnemo/")]
    return "\n".join(
        [
            "## Tool step gap (side by side with mini-swe-agent and memocode)",
            "",
            "`../shared/peerbench`: 50 `echo step N` tool steps against an instant fake "
            "model, three agents interleaved over 3 rounds on a quiet machine (load1 "
            "< 0.6 before each). gap = the server's arrival of request i+1 − its "
            "completion of request i (the agent's own time per step, the tool run "
            "included); mnemo runs with its defaults (`mnemo -p … --yes`: ask mode, "
            "checkpoints on, commands in a warm bubblewrap sandbox).",
            "Target: mnemo's gap p50 ≤ 8 ms.",
            "",
            *_table(summary, "Per round"),
            "",
            "Per agent, median over the rounds (gap in ms; TTFR = spawn → first "
            "request, s; tokens of the first request's system prompt and tools):",
            "",
            *kept,
            "",
            "Ratio of gap p50 in the same round: " + "; ".join(ratios),
        ]
    )
