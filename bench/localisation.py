"""File localisation on SWE-bench Lite: does the ranking put the gold files first?

Each of the 140 instances of ``swebench-localisation/lite.jsonl`` (data folder,
``--data``) names a repository, a base commit, the issue text and the files the gold
patch edits. Per repository one detached ``git worktree`` (from the git directories
under ``--repos``, default ``/work/.mirror/<owner>+<name>/repo``) is checked out at
each instance's commit in turn, then removed. Every method ranks the same candidate
files, the issue text as the task:

- ours: ``CodeMap(root).rank(focus_from_text(issue, …))`` over the map's selection;
- focus prior: the Focus's prior alone (mentions, definers, messages, BM25F mixed);
- BM25F: ``lexical`` alone over the same files (path, definitions, body);
- aider: aider's ``RepoMap`` ranking with its own mentioned-file and
  mentioned-identifier extraction (``bench/aider_repomap_driver.py`` in
  ``/tmp/aider-venv``), when that venv is READY.

Recall@k of an instance = |gold ∩ top k| / |gold|, averaged; "all@10" = share of
instances with every gold file in the top 10.

    .venv/bin/python -m bench.localisation [--data DIR] [--repos DIR] [--limit N]
        [--methods ours,prior,bm25,aider]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT, data_file, machine, now, take_data_option
from mnemocode.agent.codemap.focus import focus_from_text, prior_parts
from mnemocode.agent.codemap.lexical import LexicalIndex, TermCache

DATA = "swebench-localisation/lite.jsonl"
REPOS = Path("/work/.mirror")
AIDER_VENV = Path("/tmp/aider-venv")
DRIVER = ROOT / "bench" / "aider_repomap_driver.py"
KS = (1, 5, 10)
ANCHORS = "BM25 (README of the data, .py files, path words ×3): 0.33 / 0.59 / 0.68"


@dataclass(slots=True)
class Instance:
    id: str
    repo: str
    commit: str
    text: str
    gold: tuple[str, ...]


@dataclass(slots=True)
class Method:
    name: str
    label: str
    hits: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    all10: int = 0
    n: int = 0
    seconds: float = 0.0
    per_repo: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    repo_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def score(self, inst: Instance, ranked: Sequence[str], seconds: float) -> None:
        gold = set(inst.gold)
        for k in KS:
            self.hits[k] += len(gold & set(ranked[:k])) / len(gold)
        self.all10 += gold <= set(ranked[:10])
        self.n += 1
        self.seconds += seconds
        self.per_repo[inst.repo].append(len(gold & set(ranked[:10])) / len(gold))
        self.repo_seconds[inst.repo] += seconds

    def recall(self, k: int) -> float:
        return self.hits[k] / self.n if self.n else float("nan")


def load(path: Path) -> list[Instance]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(
                Instance(
                    d["instance_id"],
                    d["repo"],
                    d["base_commit"],
                    d["problem_statement"],
                    tuple(d["gold_files"]),
                )
            )
    return out


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)  # noqa: PLW1510
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def by_score(files: Sequence[str], scores: dict[str, float]) -> list[str]:
    """Every file, best first: score descending, then path (deterministic)."""
    return sorted(files, key=lambda f: (-scores.get(f, 0.0), f))


def _codemap() -> type | None:
    try:
        from mnemocode.agent.codemap import CodeMap
    except ImportError:
        return None
    return CodeMap if hasattr(CodeMap, "rank") else None


def _aider(root: Path, files: Sequence[str], text: str, cache: Path) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as lst:
        lst.write("\n".join(files))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as focus:
        focus.write(text)
    try:
        out = subprocess.run(
            [
                str(AIDER_VENV / "bin" / "python"),
                str(DRIVER),
                str(root),
                "--files-from",
                lst.name,
                "--focus-file",
                focus.name,
                "--cache-dir",
                str(cache),
                "--no-map",
                "--runs",
                "warm",  # its tags cache per repository, kept across the commits
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
    finally:
        Path(lst.name).unlink()
        Path(focus.name).unlink()
    ranked: list[str] = json.loads(out)["ranked"]
    return ranked


Ranker = Callable[[Path, Sequence[str], Instance], list[str]]


class Tree:
    """A repository's files at one commit, written from its git directory. Blobs the
    mirror lacks (its largest files) are left out; a new commit rewrites only the files
    that changed, so unchanged files keep their mtimes (and their cached tokens)."""

    def __init__(self, gitdir: Path, dest: Path) -> None:
        self.gitdir, self.dest = gitdir, dest
        self.files: dict[str, str] = {}  # path → blob written
        dest.mkdir(parents=True)

    def checkout(self, commit: str) -> None:
        listing = git("--git-dir", str(self.gitdir), "ls-tree", "-r", "-z", commit)
        want: dict[str, str] = {}
        for entry in filter(None, listing.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind, sha = meta.split()
            if kind == "blob" and mode in ("100644", "100755"):
                want[path] = sha
        for path in set(self.files) - set(want):
            (self.dest / path).unlink(missing_ok=True)
        changed = sorted(p for p, sha in want.items() if self.files.get(p) != sha)
        blobs = self._blobs([want[p] for p in changed])
        self.files = {p: sha for p, sha in want.items() if p not in changed}
        for path in changed:
            data = blobs.get(want[path])
            if data is None:
                continue
            target = self.dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.files[path] = want[path]

    def _blobs(self, shas: Sequence[str]) -> dict[str, bytes]:
        if not shas:
            return {}
        out = subprocess.run(
            ["git", "--git-dir", str(self.gitdir), "cat-file", "--batch"],
            input="\n".join(shas).encode() + b"\n",
            capture_output=True,
            check=True,
        ).stdout
        blobs: dict[str, bytes] = {}
        pos = 0
        while pos < len(out):
            eol = out.index(b"\n", pos)
            head = out[pos:eol].decode().split()
            pos = eol + 1
            if len(head) == 3:
                size = int(head[2])
                blobs[head[0]] = out[pos : pos + size]
                pos += size + 1
        return blobs


def measure(
    instances: list[Instance], repos: Path, names: Sequence[str], dump: Path | None = None
) -> list[Method]:
    CodeMap = _codemap()
    labels = {
        "ours": "ours: CodeMap.rank(focus_from_text(issue))",
        "prior": "Focus prior alone (no graph)",
        "bm25": "BM25F over contents + paths (lexical alone)",
        "aider": "aider RepoMap (its own mention extraction)",
    }
    if CodeMap is None:
        names = [n for n in names if n != "ours"]
    if not (AIDER_VENV / "READY").exists():
        names = [n for n in names if n != "aider"]
    methods = {n: Method(n, labels[n]) for n in names}
    work = Path(tempfile.mkdtemp(prefix="mnemo-loc-"))
    cache = TermCache()
    out = dump.open("w", encoding="utf-8") if dump else None
    try:
        groups: dict[str, list[Instance]] = defaultdict(list)
        for inst in instances:
            groups[inst.repo].append(inst)
        for repo in sorted(groups):
            slug = repo.replace("/", "+")
            tree = Tree(repos / slug / "repo", work / slug)
            for inst in groups[repo]:
                tree.checkout(inst.commit)
                record = _one(inst, tree, work, methods, cache, CodeMap, out is not None)
                if out is not None:
                    out.write(json.dumps(record, sort_keys=True) + "\n")
                print(f"  {inst.id}", file=sys.stderr, flush=True)
            shutil.rmtree(tree.dest, ignore_errors=True)
    finally:
        if out is not None:
            out.close()
        shutil.rmtree(work, ignore_errors=True)
    return list(methods.values())


def _one(  # noqa: PLR0917
    inst: Instance,
    tree: Tree,
    work: Path,
    methods: dict[str, Method],
    cache: TermCache,
    CodeMap: type | None,
    dump: bool = False,
) -> dict[str, object]:
    """Scores every method on ``inst``; returns what ``--dump`` writes for it: the gold
    files, each method's top 50, the prior's parts and our scores (tuning data)."""
    files = sorted(tree.files)
    root = tree.dest
    t = time.perf_counter()
    cm = None
    if CodeMap is not None:
        cm = CodeMap(root, cache_path=work / f"{inst.repo.replace('/', '+')}.db")
        files = list(cm.selection().files)
    index = LexicalIndex.build(root, files, cache=cache)
    focus = focus_from_text(inst.text, root=root, files=files, index=index)
    focus_s = time.perf_counter() - t
    record: dict[str, object] = {"id": inst.id, "repo": inst.repo, "gold": inst.gold}
    record["n_files"] = len(files)
    if "prior" in methods:
        ranked = by_score(files, focus.prior)
        methods["prior"].score(inst, ranked, focus_s)
        record["prior"] = ranked[:50]
    if "ours" in methods and cm is not None:
        t = time.perf_counter()
        scored = [(r.path, r.score) for r in cm.rank(focus)]
        ranked = [p for p, _ in scored]
        methods["ours"].score(inst, ranked, focus_s + time.perf_counter() - t)
        record["ours"] = ranked[:50]
        record["graph"] = dict(scored[:300]) | {p: s for p, s in scored if p in inst.gold}
    if "bm25" in methods:
        t = time.perf_counter()
        index = LexicalIndex.build(root, files, cache=cache)
        ranked = by_score(files, index.scores(inst.text))
        methods["bm25"].score(inst, ranked, time.perf_counter() - t)
        record["bm25"] = ranked[:50]
    if "aider" in methods:
        t = time.perf_counter()
        ranked = _aider(root, files, inst.text, work / f"aider-{inst.repo.replace('/', '+')}")
        methods["aider"].score(inst, ranked, time.perf_counter() - t)
        record["aider"] = ranked[:50]
    if dump:
        parts = prior_parts(inst.text, root=root, files=files, index=index)
        record["parts"] = {
            "mentioned": parts.mentioned,
            "lexical": dict(sorted(parts.lexical.items(), key=lambda kv: -kv[1])[:300]),
            "defines": parts.defines,
            "messages": parts.messages,
        }
    return record


def section(methods: list[Method], instances: list[Instance]) -> str:
    repos = sorted({i.repo for i in instances})
    lines = [
        "## Localisation (SWE-bench Lite files)",
        "",
        f"{len(instances)} instances of `{DATA}` from {len(repos)} repositories, each tree "
        "at its base commit; the issue text is the task; every method ranks the same "
        "candidate files (the map's selection, tests included). Recall@k = |gold ∩ top k| "
        "/ |gold|, averaged; all@10 = share with every gold file in the top 10. "
        f"Anchors: {ANCHORS}. Target: ours R@5 ≥ 0.70, R@10 ≥ 0.80, above BM25 and aider.",
        f"Machine: {machine()}; {now()}.",
        "",
        "| method | R@1 | R@5 | R@10 | all@10 | s/instance |",
        "|---|---|---|---|---|---|",
    ]
    for m in methods:
        lines.append(
            f"| {m.label} | {m.recall(1):.3f} | {m.recall(5):.3f} | {m.recall(10):.3f} | "
            f"{m.all10 / max(1, m.n):.3f} | {m.seconds / max(1, m.n):.2f} |"
        )
    lines += ["", "R@10 per repository (seconds per instance):", ""]
    lines.append("| repository | n | " + " | ".join(m.name for m in methods) + " |")
    lines.append("|---|---|" + "---|" * len(methods))
    for repo in repos:
        cells = [
            f"{sum(v) / len(v):.2f} ({m.repo_seconds[repo] / len(v):.2f} s)"
            if (v := m.per_repo.get(repo))
            else "-"
            for m in methods
        ]
        n = sum(1 for i in instances if i.repo == repo)
        lines.append(f"| {repo} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(argv: Sequence[str] = ()) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=Path, default=REPOS)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--repo", default="")
    parser.add_argument("--methods", default="ours,prior,bm25,aider")
    parser.add_argument("--dump", type=Path, help="per-instance rankings (JSON lines)")
    args = parser.parse_args(list(argv))
    instances = load(data_file(DATA))
    if args.repo:
        instances = [i for i in instances if i.repo == args.repo]
    if args.limit:
        instances = instances[: args.limit]
    methods = measure(instances, args.repos, args.methods.split(","), args.dump)
    return section(methods, instances)


if __name__ == "__main__":  # python -m bench.localisation [--data DIR] [--repos DIR]
    print(run(take_data_option(sys.argv[1:])))
