"""The memo of finished answers in the cache file: a task asked again about an
unchanged tree gets the same focus and map back; any edit is a miss; a memo that
cannot be used only costs time. Real files, a real git repository, real SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mnemocode.agent.codemap import CodeMap
from tests.agent.codemap.repo import make_repo, many_files

TASK = "LedgerStore.flush_pending_rows drops the last row"


def _memo_rows(cache: Path) -> int:
    with sqlite3.connect(cache) as conn:
        (rows,) = conn.execute("SELECT COUNT(*) FROM codemap_memo").fetchone()
    return int(rows)


def test_the_same_task_on_the_same_tree_is_answered_from_the_memo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "work", many_files(30))
    cache = tmp_path / "codemap.db"
    first = CodeMap(repo, cache_path=cache)
    focus = first.focus(TASK)
    text = first.render(focus, tokens=600)
    assert "flush_pending_rows" in text
    assert _memo_rows(cache) == 2  # the focus and the map
    again = CodeMap(repo, cache_path=cache)
    assert again.focus(TASK) == focus
    assert again.render(focus, tokens=600) == text
    assert _memo_rows(cache) == 2
    assert again.render(focus, tokens=300) != text  # another budget: another answer
    assert _memo_rows(cache) == 3


def test_an_edit_misses_the_memo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "work", many_files(30))
    cache = tmp_path / "codemap.db"
    cm = CodeMap(repo, cache_path=cache)
    before = cm.render(cm.focus(TASK), tokens=600)
    (repo / "pkg/ledger.py").write_text(
        "class LedgerStore:\n    def flush_pending_rows(self, strict: bool) -> int:\n"
        "        return 0\n",
        encoding="utf-8",
    )
    fresh = CodeMap(repo, cache_path=cache)
    after = fresh.render(fresh.focus(TASK), tokens=600)
    assert after != before
    assert "def flush_pending_rows(self, strict: bool) -> int:" in after


def test_a_memo_that_cannot_be_read_or_written_costs_only_time(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "work", many_files(30))
    cache = tmp_path / "codemap.db"
    expected = CodeMap(repo).render(CodeMap(repo).focus(TASK), tokens=600)
    CodeMap(repo, cache_path=cache).selection()
    with sqlite3.connect(cache) as conn:  # a table of another shape under the memo's name
        conn.execute("DROP TABLE codemap_memo")
        conn.execute("CREATE TABLE codemap_memo (other TEXT)")
    cm = CodeMap(repo, cache_path=cache)
    assert cm.render(cm.focus(TASK), tokens=600) == expected
