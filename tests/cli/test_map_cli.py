"""`mnemo map` as a real subprocess on a real git repository."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.codemap.repo import FILES, make_repo
from tests.conftest import run_mnemo

SOURCES = sorted(name for name in FILES if name.endswith(".py"))


def test_text_map_names_files_and_signatures(tmp_path: Path, isolated_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    proc = run_mnemo(["map"], cwd=repo, home=isolated_home)
    assert proc.returncode == 0, proc.stderr
    assert "pkg/shapes.py" in proc.stdout
    assert "def make_circle(radius: float) -> Circle" in proc.stdout


def test_json_lists_every_candidate_file_best_first(tmp_path: Path, isolated_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    focus = "LedgerStore.flush_pending_rows drops the last row"
    proc = run_mnemo(
        ["map", str(repo), "--focus", focus, "--json"], cwd=tmp_path, home=isolated_home
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["files", "skipped"]
    files = data["files"]
    paths = [f["path"] for f in files]
    assert set(SOURCES) <= set(paths), paths  # relative to PATH, every source file
    assert all(not Path(p).is_absolute() for p in paths)
    assert len(paths) == len(set(paths))
    scores = [f["score"] for f in files]
    assert scores == sorted(scores, reverse=True)
    assert paths[0] == "pkg/ledger.py"
    assert set(files[0]) == {"path", "score", "definitions"}
    names = [d["name"] for d in files[0]["definitions"]]
    assert "LedgerStore.flush_pending_rows" in names
    line = next(d["line"] for d in files[0]["definitions"] if d["name"] == "LedgerStore")
    assert line == 1


def test_the_same_map_in_every_run(tmp_path: Path, isolated_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    runs = [
        run_mnemo(["map", "--focus", "circle area"], cwd=repo, home=isolated_home,
                  env={"PYTHONHASHSEED": seed})
        for seed in ("1", "2")
    ]  # fmt: skip
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout


def test_tokens_zero_prints_no_map(tmp_path: Path, isolated_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    proc = run_mnemo(["map", "--tokens", "0"], cwd=repo, home=isolated_home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_a_bad_path_is_one_clear_error(tmp_path: Path, isolated_home: Path) -> None:
    proc = run_mnemo(["map", "no-such-dir"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"mnemo: error: map: {tmp_path / 'no-such-dir'} is not a directory\n"


def test_the_tag_cache_lives_in_mnemo_home_not_the_repo(
    tmp_path: Path, isolated_home: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    proc = run_mnemo(["map", "--json"], cwd=repo, home=isolated_home)
    assert proc.returncode == 0, proc.stderr
    assert list(isolated_home.glob("projects/*/codemap.db"))
    assert not list(repo.rglob("codemap.db"))


def test_what_the_map_left_out_is_counted(tmp_path: Path, isolated_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "node_modules" / "left").mkdir(parents=True)
    (repo / "node_modules" / "left" / "index.js").write_text("function left() {}\n")
    (repo / "app.min.js").write_text("function a(){}" * 50 + "\n")
    proc = run_mnemo(["map", "--json"], cwd=repo, home=isolated_home)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["skipped"] == {"minified": 1, "vendored": 1}
    assert not {"app.min.js", "node_modules/left/index.js"} & {f["path"] for f in data["files"]}
    text = run_mnemo(["map"], cwd=repo, home=isolated_home)
    assert text.stderr.strip().endswith("· left out: 1 minified, 1 vendored"), text.stderr
    assert "left out" not in text.stdout
