"""Start-up time of `mnemo --version` / `--help`, side by side with `mcode --help`
(PyPI memocode) and `mini --help` (PyPI mini-swe-agent), each installed in its own
throwaway virtualenv under bench/.envs/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ENVS, ROOT, median, percentile

RUNS = 21
OTHERS = {"memocode": ("memocode", "mcode"), "mini": ("mini-swe-agent", "mini")}


def ensure_env(name: str, package: str) -> Path | None:
    env = ENVS / name
    python = env / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    marker = env / ".installed"
    if not marker.exists():
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", package], check=False)
        if done.returncode != 0:
            return None
        marker.write_text(package)
    return env


def time_command(argv: list[str]) -> tuple[float, float, int]:
    env = {**os.environ, "NO_COLOR": "1"}
    for _ in range(2):  # warm the page cache
        subprocess.run(argv, capture_output=True, env=env, check=False)
    samples = []
    code = 0
    for _ in range(RUNS):
        start = time.perf_counter()
        code = subprocess.run(argv, capture_output=True, env=env, check=False).returncode
        samples.append(time.perf_counter() - start)
    return median(samples), percentile(samples, 90), code


def run() -> str:
    mnemo = str(Path(sys.executable).parent / "mnemo")
    rows: list[tuple[str, float, float, int]] = []
    for args in (["--version"], ["--help"]):
        rows.append((f"mnemo {' '.join(args)}", *time_command([mnemo, *args])))
    for name, (package, command) in OTHERS.items():
        env = ensure_env(name, package)
        if env is None:
            rows.append(
                (f"{command} --help (install of {package} failed)", float("nan"), float("nan"), -1)
            )
            continue
        rows.append((f"{command} --help", *time_command([str(env / "bin" / command), "--help"])))
    lines = [
        "## Start-up time",
        "",
        f"Median and p90 of {RUNS} runs after 2 warm-up runs (wall clock, subprocess).",
        "Target: `mnemo --version` under 0.25 s, and faster than both others.",
        "",
        "| command | median (s) | p90 (s) | exit |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{name}` | {med:.3f} | {p90:.3f} | {code} |" for name, med, p90, code in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.chdir(ROOT)
    print(run())
