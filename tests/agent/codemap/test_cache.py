"""The tag cache: a real SQLite file, real files whose mtime and content change, and
real processes building the same cache at once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mnemocode.agent.codemap import CodeMap
from mnemocode.agent.codemap.types import Focus
from tests.agent.codemap.repo import FILES, make_repo, write_files

BUILD = """
import sys
from pathlib import Path
from mnemocode.agent.codemap import CodeMap
from mnemocode.agent.codemap.types import Focus

cm = CodeMap(Path(sys.argv[1]), cache_path=Path(sys.argv[2]))
print(cm.render(Focus(identifiers={"make_circle": 1.0}), tokens=4000), end="")
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work")


def _rows(cache: Path) -> dict[str, int]:
    with sqlite3.connect(cache) as conn:
        return dict(conn.execute("SELECT path, mtime_ns FROM codemap_files ORDER BY path"))


def test_a_warm_build_parses_nothing(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "codemap.db"
    cold = CodeMap(repo, cache_path=cache)
    cold_map = cold.render(Focus(), tokens=2000)
    # stats tell what the render's build did (reading them builds nothing)
    parsed = sorted(p for p in FILES if p.endswith(".py"))
    assert sorted(cold.stats.parsed_paths) == parsed
    assert sorted(_rows(cache)) == sorted(FILES)  # README.md too: listed by name
    warm = CodeMap(repo, cache_path=cache)
    assert warm.render(Focus(), tokens=2000) == cold_map
    assert (warm.stats.parsed, warm.stats.rehashed, warm.stats.reused) == (0, 0, len(FILES))


def test_an_edit_is_parsed_again_and_changes_the_map(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "codemap.db"
    cm = CodeMap(repo, cache_path=cache)
    assert "flush_pending_rows" in cm.render(Focus(), tokens=2000)
    ledger = repo / "pkg/ledger.py"
    ledger.write_text(
        "class LedgerStore:\n"
        "    def drain_rows(self, limit: int = 100, *, strict: bool = False) -> int:\n"
        "        return limit\n",
        encoding="utf-8",
    )
    definitions, _ = cm.find("drain_rows")
    assert cm.stats.parsed_paths == ["pkg/ledger.py"]
    assert [(d.path, d.line, d.parents) for d in definitions] == [
        ("pkg/ledger.py", 2, ("LedgerStore",))
    ]
    assert cm.find("flush_pending_rows")[0] == []
    # main.py still calls the old name: its reference stays, the definition is gone
    assert [(r.path, r.line) for r in cm.find("flush_pending_rows")[1]] == [("main.py", 9)]
    text = cm.render(Focus(), tokens=2000)
    assert "def drain_rows(self, limit: int = 100, *, strict: bool = False) -> int:" in text
    # another process (a new CodeMap) reads the edit from the cache, parsing nothing
    fresh = CodeMap(repo, cache_path=cache)
    assert fresh.stats.parsed == 0
    assert fresh.render(Focus(), tokens=2000) == text


def test_a_touched_but_unchanged_file_is_not_parsed(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "codemap.db"
    CodeMap(repo, cache_path=cache).selection()
    shapes = repo / "pkg/shapes.py"
    st = shapes.stat()
    os.utime(shapes, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    cm = CodeMap(repo, cache_path=cache)
    assert (cm.stats.parsed, cm.stats.rehashed, cm.stats.reused) == (0, 1, len(FILES) - 1)
    # the new mtime is stored, so the next build does not even read the file
    assert _rows(cache)["pkg/shapes.py"] == st.st_mtime_ns + 5_000_000_000
    assert CodeMap(repo, cache_path=cache).stats.rehashed == 0


def test_an_edit_that_keeps_the_size_is_parsed_again(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "codemap.db"
    CodeMap(repo, cache_path=cache).selection()
    ledger = repo / "pkg/ledger.py"
    st = ledger.stat()
    text = ledger.read_text(encoding="utf-8")
    ledger.write_text(text.replace("flush_pending_rows", "flush_waiting_rows"), encoding="utf-8")
    os.utime(ledger, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert ledger.stat().st_size == st.st_size
    cm = CodeMap(repo, cache_path=cache)
    assert cm.stats.parsed_paths == ["pkg/ledger.py"]
    assert [d.path for d in cm.find("flush_waiting_rows")[0]] == ["pkg/ledger.py"]


def test_deleted_files_leave_the_cache(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "codemap.db"
    CodeMap(repo, cache_path=cache).selection()
    (repo / "pkg/ledger.py").unlink()
    cm = CodeMap(repo, cache_path=cache)
    assert "pkg/ledger.py" not in cm.selection().files
    assert "pkg/ledger.py" not in _rows(cache)
    assert cm.find("LedgerStore")[0] == []


def test_content_verdicts_are_cached_with_the_tags(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "codemap.db"
    write_files(repo, {"web/app.js": "var a=1;" * 400, "gen.py": "# Code generated. DO NOT EDIT.\n"})
    cold = CodeMap(repo, cache_path=cache).selection()
    assert cold.skipped == {"generated": 1, "minified": 1}
    warm = CodeMap(repo, cache_path=cache)
    assert warm.selection() == cold
    assert warm.stats.rehashed == 0


def test_two_roots_share_one_cache_file(tmp_path: Path) -> None:
    cache = tmp_path / "codemap.db"
    one = write_files(tmp_path / "one", {"a.py": "def alpha() -> None: ...\n"})
    two = write_files(tmp_path / "two", {"a.py": "def beta() -> None: ...\n"})
    assert CodeMap(one, cache_path=cache).find("alpha")[0]
    assert CodeMap(two, cache_path=cache).find("beta")[0]
    again = CodeMap(one, cache_path=cache)
    assert again.stats.parsed == 0
    assert again.find("alpha")[0] and not again.find("beta")[0]


def test_two_processes_build_the_same_cache_at_once(tmp_path: Path) -> None:
    files = {f"pkg/m{i:02d}.py": f"def make_{i:02d}() -> int:\n    return {i}\n" for i in range(60)}
    repo = make_repo(tmp_path / "work", {**FILES, **files})
    cache = tmp_path / "state" / "codemap.db"
    cache.parent.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD, str(repo), str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert outputs[0][0] == outputs[1][0] != ""
    warm = CodeMap(repo, cache_path=cache)
    assert warm.stats.parsed == 0
    assert warm.render(Focus(identifiers={"make_circle": 1.0}), tokens=4000) == outputs[0][0]
