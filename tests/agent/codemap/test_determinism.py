"""The same tree and task give a byte-identical map in every process, whatever
``PYTHONHASHSEED`` says: real subprocesses, a tree with many ties (files of the same
shape, names defined in several files), the 13-language fixture inside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mnemocode.agent.codemap import CodeMap
from tests.agent.codemap.repo import copy_fixture, make_repo

TASK = (
    "Inventory.parse_line drops the price when `sep` is ';'; see app/models.py and "
    'the Ledger in svc/ledger.rs. Traceback: File "app/report.py", line 9, in main'
)
SCRIPT = """
import json, sys
from pathlib import Path
from mnemocode.agent.codemap import CodeMap
from mnemocode.agent.codemap.focus import focus_from_text

root, cache, task = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
cm = CodeMap(root, cache_path=Path(cache) if cache else None)
files = cm.selection().files
focus = focus_from_text(task, root=root, files=files, chat_files=["mod_07.py"])
ranked = [
    [r.path, repr(r.score), [[d.name, d.line, d.signature] for d in r.definitions]]
    for r in cm.rank(focus)
]
print(json.dumps({"map": cm.render(focus, tokens=1500), "ranked": ranked}))
"""


def _tied_tree(root: Path) -> Path:
    files: dict[str, str] = {
        "util.py": "def shared_util(x: int) -> int:\n    return x\n\n\ndef run() -> None: ...\n"
    }
    for i in range(30):
        # same shape in every module: equal scores, a tie broken by path alone
        files[f"mod_{i:02d}.py"] = (
            "from util import shared_util\n\n\n"
            f"def helper_{i:02d}(x: int) -> int:\n    return shared_util(x)\n\n\n"
            "def run() -> None:\n    helper(1)\n"
        )
    make_repo(root, files)
    copy_fixture("polyglot", root / "polyglot")
    return root


def _maps_in_processes(root: Path, seeds: list[str], cache: Path | None = None) -> list[str]:
    """The map printed by one fresh process per seed, run side by side."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(root), str(cache or ""), TASK],
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in seeds
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(seeds), [err for _, err in outputs]
    return [out for out, _ in outputs]


def test_same_map_with_every_hash_seed(tmp_path: Path) -> None:
    root = _tied_tree(tmp_path / "tree")
    cold = _maps_in_processes(root, ["0", "1", "4242"])
    assert cold[0] == cold[1] == cold[2]
    result = json.loads(cold[0])
    scores = [score for _, score, _ in result["ranked"]]
    assert len(scores) - len(set(scores)) >= 10  # the tree does have ties
    assert "polyglot/svc/ledger.rs" in result["map"]
    # the order of tied files is the path order
    tied = [path for path, score, _ in result["ranked"] if score == scores[-1]]
    assert tied == sorted(tied)
    # a map read back from the cache (written here), in a process with another seed
    cache = tmp_path / "codemap.db"
    written = CodeMap(root, cache_path=cache)
    assert written.stats.parsed == len(scores) - len(written.selection().unparsed)
    assert _maps_in_processes(root, ["7"], cache) == [cold[0]]
