"""Checkpoint snapshot time on a 10,000-file repository: the first snapshot (empty
store), an incremental one after 10 files changed, one with nothing changed, and
an undo of a 10-file turn."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, median

FILES = 10_000
FIRST_RUNS = 3
RUNS = 7
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def make_repo(root: Path, files: int = FILES, seed: int = 1) -> list[Path]:
    """A deterministic tree: nested package folders of small text files, a few
    larger ones, a .gitignore'd build folder, as a git repository."""
    rng = random.Random(seed)
    paths = []
    for i in range(files):
        folder = root / f"pkg{i % 20}" / f"mod{i % 7}" / f"sub{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = rng.randint(5, 120) if i % 100 else rng.randint(1_000, 3_000)
        text = "\n".join(" ".join(rng.choices(WORDS, k=8)) for _ in range(lines))
        path = folder / f"file{i}.py"
        path.write_text(text + "\n")
        paths.append(path)
    (root / ".gitignore").write_text("build/\n")
    (root / "build").mkdir()
    for i in range(200):
        (root / "build" / f"out{i}.o").write_bytes(rng.randbytes(4_000))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", "init", "-q"], cwd=root, env=env, check=True)
    return paths


def run() -> str:
    from mnemocode.safety.checkpoints import CheckpointStore

    with tempfile.TemporaryDirectory(prefix="mnemo-bench-ckpt-") as tmp:
        base = Path(tmp)
        work = base / "repo"
        work.mkdir()
        paths = make_repo(work)
        rng = random.Random(2)

        first = []
        for run_no in range(FIRST_RUNS):
            state = base / f"state{run_no}"
            store = CheckpointStore(state, work)
            start = time.perf_counter()
            store.begin_turn("bench", 1)
            first.append(time.perf_counter() - start)
            if run_no < FIRST_RUNS - 1:
                shutil.rmtree(state)
        size = sum(f.stat().st_size for f in state.rglob("*") if f.is_file())

        incremental, unchanged, ends, undos = [], [], [], []
        for turn in range(2, 2 + RUNS):
            store.end_turn("bench", turn - 1)
            for path in rng.sample(paths, 10):
                with path.open("a") as fh:
                    fh.write(f"# turn {turn}\n")
            start = time.perf_counter()
            store.begin_turn("bench", turn)
            incremental.append(time.perf_counter() - start)
            start = time.perf_counter()
            store.begin_turn("bench", turn + 1000)  # nothing changed since
            unchanged.append(time.perf_counter() - start)
        for turn in range(100, 100 + RUNS):
            store.begin_turn("bench", turn)
            for path in rng.sample(paths, 10):
                path.write_text(f"rewritten in turn {turn}\n")
            start = time.perf_counter()
            store.end_turn("bench", turn)
            ends.append(time.perf_counter() - start)
            start = time.perf_counter()
            changed = store.undo("bench", turn)
            undos.append(time.perf_counter() - start)
            assert len(changed) == 10, changed

    rows = [
        ("first snapshot (empty store, 10,000 files hashed)", median(first), max(first)),
        ("incremental snapshot, 10 files changed", median(incremental), max(incremental)),
        ("snapshot with nothing changed", median(unchanged), max(unchanged)),
        ("end_turn (after-snapshot, 10 files changed)", median(ends), max(ends)),
        ("undo of a 10-file turn (check + restore)", median(undos), max(undos)),
    ]
    lines = [
        "## Checkpoint snapshots",
        "",
        f"A generated git repository of {FILES:,} text files (nested folders, ~1 % of them",
        "large) plus a .gitignore'd build/ folder; shadow git store, wall clock.",
        f"First snapshot: median of {FIRST_RUNS} runs, each into a new store;",
        f"the others: median of {RUNS}. Store size after the first snapshot: {size / 1e6:.1f} MB.",
        "",
        "| operation | median (s) | max (s) |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {med:.3f} | {worst:.3f} |" for name, med, worst in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.chdir(ROOT)
    print(run())
