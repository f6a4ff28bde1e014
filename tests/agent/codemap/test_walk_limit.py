"""Selection ends in a huge tree (someone running mnemo in ``~`` or ``/``): at most
``max_files`` files, a walk no deeper than ``MAX_DEPTH`` and no longer than its time
budget; what was left out is counted as "limit". Real folders, a real git repository,
and a real pool of parser processes for a build big enough to use one."""

from __future__ import annotations

import threading
from pathlib import Path

from mnemocode.agent.codemap import CodeMap
from mnemocode.agent.codemap.files import MAX_DEPTH, list_files
from mnemocode.agent.codemap.index import PARALLEL_MIN
from mnemocode.agent.codemap.types import Focus
from tests.agent.codemap.repo import make_repo, write_files


def _folders(root: Path, folders: int, files: int) -> Path:
    return write_files(
        root,
        {
            f"d{f}/m{i}.py": f"def f{f}_{i}() -> int:\n    return {i}\n"
            for f in range(folders)
            for i in range(files)
        },
    )


def test_a_walk_stops_at_the_file_cap_and_counts_the_rest(tmp_path: Path) -> None:
    root = _folders(tmp_path / "home", folders=3, files=10)
    assert len(CodeMap(root).selection().files) == 30
    capped = CodeMap(root, max_files=12).selection()
    assert len(capped.files) == 12
    assert capped.skipped["limit"] >= 1  # folders, or the rest of one, not walked
    assert "limit" not in CodeMap(root).selection().skipped


def test_a_walk_goes_no_deeper_than_its_depth_limit(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    deep = "/".join(f"n{i}" for i in range(MAX_DEPTH + 2))
    write_files(root, {"top.py": "x = 1\n", f"{deep}/bottom.py": "y = 2\n"})
    selection = CodeMap(root).selection()
    assert selection.files == ("top.py",)
    assert selection.skipped == {"limit": 1}


def test_a_walk_past_its_time_budget_stops_and_says_so(tmp_path: Path) -> None:
    root = _folders(tmp_path / "slow", folders=2, files=2)
    assert list_files(root).files != []
    late = list_files(root, walk_seconds=-1.0)  # the deadline has already passed
    assert (late.files, late.skipped) == ([], {"limit": 1})


def test_a_repository_listing_is_capped_too(tmp_path: Path) -> None:
    files = {f"pkg/m{i:02d}.py": f"def g{i}() -> None: ...\n" for i in range(20)}
    root = make_repo(tmp_path / "repo", files)
    capped = CodeMap(root, max_files=5).selection()
    assert capped.files == tuple(sorted(files)[:5])
    assert capped.skipped == {"limit": 15}


def test_a_pool_built_map_equals_one_built_in_process(tmp_path: Path) -> None:
    count = PARALLEL_MIN * 2
    files = {
        f"pkg/m{i:03d}.py": (
            f"from pkg.m{(i + 1) % count:03d} import g{(i + 1) % count}\n\n\n"
            f"def g{i}(x: int) -> int:\n    return g{(i + 1) % count}(x) + {i}\n"
        )
        for i in range(count)
    }
    root = make_repo(tmp_path / "repo", files)
    pooled = CodeMap(root, cache_path=tmp_path / "pooled.db", workers=2)
    in_process = CodeMap(root, cache_path=tmp_path / "alone.db", workers=1)
    assert pooled.stats.parsed == in_process.stats.parsed == count
    focus = Focus(identifiers={"g7": 1.0})
    assert pooled.render(focus, tokens=3000) == in_process.render(focus, tokens=3000)
    assert pooled.rank(focus) == in_process.rank(focus)
    assert pooled.find("g7") == in_process.find("g7")
    # a third process reads the pool's cache and parses nothing
    assert CodeMap(root, cache_path=tmp_path / "pooled.db").stats.parsed == 0


def test_a_pool_started_from_a_thread_builds_the_same_map(tmp_path: Path) -> None:
    """A session builds its map on a thread: the pool starts its processes without
    fork() there (forkserver), and the map is the one built in this process."""
    files = {f"pkg/m{i:03d}.py": f"def h{i}(x: int) -> int:\n    return x\n" for i in range(80)}
    root = make_repo(tmp_path / "repo", files)
    built: dict[str, str] = {}

    def build() -> None:
        cm = CodeMap(root, workers=2)
        built["map"] = cm.render(Focus(identifiers={"h3": 1.0}), tokens=2000)

    thread = threading.Thread(target=build)
    thread.start()
    thread.join(timeout=120)
    expected = CodeMap(root, workers=1).render(Focus(identifiers={"h3": 1.0}), tokens=2000)
    assert built["map"] == expected
    assert "def h3(x: int) -> int:" in expected
