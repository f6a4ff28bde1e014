"""Code map speed: ours cold and warm against aider's RepoMap and a bare tree-sitter
parse of the same files, on the CPython standard library and on sympy.

Each repository is laid out as a git repository in a temporary folder: the ``Lib/``
of the Python running the benchmark (its stdlib folder without tests, site-packages,
lib-dynload, the build config and bundled wheels), and sympy at a fixed commit from
a local git mirror (``--data`` folder's ``repos/sympy``, else ``/work/.mirror``).
Every measurement runs in its own process, repetitions interleaved (ours, aider,
parse; the order rotates), timed inside the process after its imports:

- ours: ``CodeMap(root, cache_path=…)`` → ``CodeMap.focus(text)`` → ``render(tokens=…)``,
  cold (empty cache), warm (a new CodeMap on the same cache), warm after one file
  was edited; then in a new process warm again (the same task: answered from the
  memo of the tree's state) and warm with a task not asked before (ranked anew).
  The tokenizer is loaded before the clock starts, as aider's driver loads its model.
- aider: ``bench/aider_repomap_driver.py`` in aider's own venv, cold (fresh cache
  dir) then warm (a new RepoMap on the same cache), same files, budget and text.
- parse: every file our grammars cover read and parsed, one process, no queries.

    .venv/bin/python -m bench.codemap [--reps N]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_DATA, ROOT, median

REPS = 5
TOKENS = 1024  # aider's default map budget; ours for the first request
AIDER_VENV = Path(os.environ.get("MNEMO_AIDER_VENV", "/tmp/aider-venv"))
DRIVER = ROOT / "bench" / "aider_repomap_driver.py"
SYMPY_COMMIT = "e950d313a932bc6cccbc95376b3821cd2f8b5af4"
STDLIB_SKIP = {
    "site-packages",
    "lib-dynload",
    "__pycache__",
    "test",
    "tests",
    "idle_test",
    "_bundled",  # ensurepip's wheels
}
TARGET_COLD_S, TARGET_WARM_S = 1.5, 0.2


@dataclass
class Repo:
    name: str
    root: Path
    focus: str
    edit: str  # the file edited for "warm after one edit"
    other: str  # a second task, for "warm, new task"
    files: list[str] = field(default_factory=list)


def _git(root: Path, *args: str) -> None:
    who = {"GIT_AUTHOR_NAME": "bench", "GIT_COMMITTER_NAME": "bench"}
    who |= {"GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    env = {**os.environ, **who}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _commit_all(root: Path) -> None:
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "snapshot")


def stdlib_repo(tmp: Path) -> Repo:
    source = Path(sysconfig.get_paths()["stdlib"])
    root = tmp / "stdlib"

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in STDLIB_SKIP or n.startswith("config-3")}

    shutil.copytree(source, root, ignore=ignore, symlinks=True)
    _commit_all(root)
    return Repo(
        "CPython 3.11 stdlib",
        root,
        focus=(
            "asyncio: BaseEventLoop.run_in_executor hangs after shutdown_default_executor; "
            "ThreadPoolExecutor.shutdown in concurrent/futures/thread.py never joins the "
            "worker threads"
        ),
        edit="asyncio/base_events.py",
        other="json.loads gives a wrong error position for a trailing comma in JSONDecodeError",
    )


def _sympy_mirror() -> Path | None:
    for place in (DEFAULT_DATA / "repos" / "sympy", Path("/work/.mirror/sympy+sympy/repo")):
        if (place / "HEAD").exists() or (place / ".git").exists():
            return place
    return None


def sympy_repo(tmp: Path) -> Repo | None:
    mirror = _sympy_mirror()
    if mirror is None:
        return None
    root = tmp / "sympy"
    root.mkdir()
    archive = subprocess.run(
        ["git", f"--git-dir={mirror}", "archive", SYMPY_COMMIT],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    _commit_all(root)
    return Repo(
        f"sympy @ {SYMPY_COMMIT[:10]}",
        root,
        focus=(
            "simplify() of a Piecewise with a Relational condition raises TypeError: "
            "cannot determine truth value of Relational, from piecewise_fold in "
            "sympy/functions/elementary/piecewise.py"
        ),
        edit="sympy/core/basic.py",
        other="Matrix.det() with symbolic entries is slow; use the Berkowitz algorithm in "
        "sympy/matrices/determinant.py",
    )


# ---- the measured processes ----------------------------------------------------------


def _child(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ours(repo: Repo, cache: Path, runs: str) -> dict[str, Any]:
    spec = {"root": str(repo.root), "cache": str(cache), "runs": runs, "focus": repo.focus}
    spec |= {"edit": repo.edit, "tokens": TOKENS, "other": repo.other}
    return _child([sys.executable, "-m", "bench.codemap", "ours", json.dumps(spec)])


def _aider(repo: Repo, tmp: Path) -> dict[str, Any]:
    listing, focus = tmp / "files.txt", tmp / "focus.txt"
    listing.write_text("\n".join(repo.files) + "\n")
    focus.write_text(repo.focus)
    python = str(AIDER_VENV / "bin" / "python")
    argv = [python, str(DRIVER), str(repo.root), "--files-from", str(listing)]
    argv += ["--tokens", str(TOKENS), "--focus-file", str(focus)]
    argv += ["--cache-dir", str(tmp / "aider-cache"), "--runs", "cold,warm"]
    return _child(argv)


def _parse(repo: Repo, tmp: Path) -> dict[str, Any]:
    listing = tmp / "files.txt"
    listing.write_text("\n".join(repo.files) + "\n")
    spec = {"root": str(repo.root), "files": str(listing)}
    return _child([sys.executable, "-m", "bench.codemap", "parse", json.dumps(spec)])


def child_ours(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    from mnemocode.agent.codemap import CodeMap
    from mnemocode.llm.tokens import count_tokens

    count_tokens("loaded before the clock starts")
    import_s = time.perf_counter() - started
    root, cache = Path(spec["root"]), Path(spec["cache"])

    def build(task: str = spec["focus"]) -> tuple[float, str, int]:
        start = time.perf_counter()
        code_map = CodeMap(root, cache_path=cache)
        files = code_map.selection().files
        text = code_map.render(code_map.focus(task), tokens=spec["tokens"])
        return time.perf_counter() - start, text, len(files)

    out: dict[str, Any] = {"import_s": import_s}
    for kind in spec["runs"].split(","):
        if kind == "cold":
            for leftover in cache.parent.glob(cache.name + "*"):
                leftover.unlink()
        if kind == "edit":
            edited = root / spec["edit"]
            original = edited.read_bytes()
            edited.write_bytes(original + b"\n\ndef _bench_edit():\n    return 1\n")
            out[kind], text, files = build()
            edited.write_bytes(original)
        elif kind == "other":
            out[kind], _, files = build(spec["other"])
            continue
        else:
            out[kind], text, files = build()
        out["map_tokens"], out["files"] = count_tokens(text), files
    return out


def child_parse(spec: dict[str, Any]) -> dict[str, Any]:
    """The floor: our grammars' parsers over the same files, no tags queries."""
    import importlib

    from tree_sitter import Language, Parser

    from mnemocode.agent.codemap.languages import GRAMMARS, language_of

    root = Path(spec["root"])
    files = Path(spec["files"]).read_text().split("\n")
    start = time.perf_counter()
    parsers: dict[str, Parser] = {}
    parsed = 0
    for rel in files:
        name = language_of(rel) if rel else None
        if name is None:
            continue
        if name not in parsers:
            module, function = GRAMMARS[name]
            language = Language(getattr(importlib.import_module(module), function)())
            parsers[name] = Parser(language)
        parsers[name].parse((root / rel).read_bytes())
        parsed += 1
    return {"parse": time.perf_counter() - start, "parsed": parsed}


# ---- the run -------------------------------------------------------------------------


def _spread(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def measure(repo: Repo, reps: int, work: Path) -> dict[str, list[float]]:
    from mnemocode.agent.codemap import CodeMap

    repo.files = list(CodeMap(repo.root, cache_path=work / "selection.db").selection().files)
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    def ours() -> None:
        cache = work / "ours" / "tags.db"
        cache.parent.mkdir(exist_ok=True)
        first = _ours(repo, cache, "cold,warm,edit")
        again = _ours(repo, cache, "warm,other")
        for key in ("cold", "warm", "edit"):
            add(f"ours {key}", first[key])
        add("ours warm, new process", again["warm"])
        add("ours warm, new task", again["other"])
        add("ours import", first["import_s"])
        add("ours map tokens", first["map_tokens"])

    def aider() -> None:
        result = _aider(repo, work)
        for run in result["runs"]:
            add(f"aider {run['kind']}", run["seconds"])
        add("aider map tokens", result["runs"][-1]["map_tokens"])
        add("aider import", result["import_s"])

    def parse() -> None:
        result = _parse(repo, work)
        add("parse", result["parse"])
        add("parsed files", result["parsed"])

    steps: list[Callable[[], None]] = [ours, aider, parse]
    for rep in range(reps):
        for step in steps[rep % 3 :] + steps[: rep % 3]:
            step()
    return samples


def _section(rows: list[tuple[Repo, dict[str, list[float]]]], reps: int) -> str:
    lines = [
        "## Code map: build time, cold and warm",
        "",
        f"Median (min–max) of {reps} interleaved repetitions, seconds, each in its own "
        f"process timed after its imports; map budget {TOKENS} tokens, the same task text "
        "for both maps. Cold: empty tag cache. Warm: a new map object on the same cache, "
        "nothing changed (answered from the memo of the tree's state). *New task*: "
        "warm, in a new process, a task not asked before (focus and ranking computed "
        "anew from the cached tags). *After 1 edit*: one file changed, the rest cached. "
        "*Parse only*: every file our grammars cover, read and parsed by tree-sitter "
        "in one process, no queries (the floor of a cold build without parallelism).",
        f"Targets on the stdlib: ours cold ≤ {TARGET_COLD_S} s, warm ≤ {TARGET_WARM_S} s.",
        "",
        "| repository | files (parsed) | ours cold | ours warm | ours warm, new process "
        "| ours warm, new task | ours after 1 edit | aider cold | aider warm | parse only |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for repo, s in rows:
        parsed = int(median(s["parsed files"]))
        cells = [_spread(s[k]) for k in ("ours cold", "ours warm", "ours warm, new process")]
        cells.append(_spread(s["ours warm, new task"]))
        cells += [_spread(s[k]) for k in ("ours edit", "aider cold", "aider warm", "parse")]
        lines.append(f"| {repo.name} | {len(repo.files)} ({parsed}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| repository | ours import | ours map tokens | aider import | aider map tokens |",
    ]
    lines.append("|---|---|---|---|---|")
    for repo, s in rows:
        lines.append(
            f"| {repo.name} | {median(s['ours import']):.2f} s | "
            f"{median(s['ours map tokens']):.0f} | {median(s['aider import']):.2f} s | "
            f"{median(s['aider map tokens']):.0f} |"
        )
    stdlib = rows[0][1]
    cold, warm = median(stdlib["ours cold"]), median(stdlib["ours warm"])
    verdict = "met" if cold <= TARGET_COLD_S and warm <= TARGET_WARM_S else "missed"
    lines += [
        "",
        f"Stdlib targets {verdict}: cold {cold:.2f} s (≤ {TARGET_COLD_S}), "
        f"warm {warm:.2f} s (≤ {TARGET_WARM_S}).",
        f"aider-chat {_aider_version()} in its own venv (`{AIDER_VENV}`); tokens counted "
        "with o200k_base on both sides.",
    ]
    return "\n".join(lines) + "\n"


def _aider_version() -> str:
    done = subprocess.run(
        [str(AIDER_VENV / "bin" / "python"), "-c", "import aider; print(aider.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


def ensure_aider() -> None:
    """The throwaway venv with aider-chat (and bpe-openai for o200k offline)."""
    python = AIDER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AIDER_VENV)], check=True)
    if not (AIDER_VENV / "READY").exists():
        pip = [str(python), "-m", "pip", "install", "-q", "aider-chat", "bpe-openai"]
        subprocess.run(pip, check=True)
        (AIDER_VENV / "READY").touch()


def run(reps: int = REPS) -> str:
    ensure_aider()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-codemap-") as tmp:
        base = Path(tmp)
        repos = [stdlib_repo(base)]
        sympy = sympy_repo(base)
        if sympy is not None:
            repos.append(sympy)
        for repo in repos:
            work = base / f"work-{repo.root.name}"
            work.mkdir()
            print(f"  {repo.name}", file=sys.stderr, flush=True)
            rows.append((repo, measure(repo, reps, work)))
    return _section(rows, reps)


def main(argv: list[str]) -> None:
    if argv and argv[0] in ("ours", "parse"):
        child = child_ours if argv[0] == "ours" else child_parse
        print(json.dumps(child(json.loads(argv[1]))))
        return
    reps = int(argv[argv.index("--reps") + 1]) if "--reps" in argv else REPS
    os.chdir(ROOT)
    print(run(reps))


if __name__ == "__main__":
    main(sys.argv[1:])
