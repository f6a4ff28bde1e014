"""`mnemo memory ...` and `mnemo project ...` as real subprocesses: no model, the
real SQLite files under an isolated MNEMO_HOME, and .mnemo/MEMORY.md on disk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import run_mnemo


def mnemo(args: list[str], cwd: Path, home: Path, stdin: str | None = None) -> str:
    proc = run_mnemo(args, cwd=cwd, home=home, stdin=stdin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def failing(args: list[str], cwd: Path, home: Path, stdin: str | None = None) -> str:
    proc = run_mnemo(args, cwd=cwd, home=home, stdin=stdin)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return proc.stderr


def show(cwd: Path, home: Path, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(mnemo(["memory", "show", "--json", *extra], cwd, home))
    return data


def entries(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for e in data["entries"]}


def repo(tmp_path: Path, name: str = "app") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


def test_set_show_and_memory_md_round_trip(tmp_path: Path, isolated_home: Path) -> None:
    work = repo(tmp_path)
    assert "no mnemo project" in failing(["memory", "show"], work, isolated_home)
    out = mnemo(
        ["memory", "set", "db-choice", "Use SQLite", "--kind", "decision"], work, isolated_home
    )
    assert out.strip() == "added db-choice (decision): Use SQLite"
    mnemo(["memory", "set", "db-choice", "Use SQLite everywhere"], work, isolated_home)
    mirror = work / ".mnemo" / "MEMORY.md"
    assert "## Decisions\n\n- **db-choice**: Use SQLite everywhere" in mirror.read_text()
    data = show(work, isolated_home)
    assert data["project"] == "app"
    assert entries(data)["db-choice"]["kind"] == "decision"  # the kind is kept
    assert data["tokens"]["project"] > 0
    text = mnemo(["memory", "show"], work / ".mnemo", isolated_home)  # from a subfolder too
    assert "db-choice: Use SQLite everywhere  (active)" in text

    # a hand edit of MEMORY.md is picked up: a new bullet, a changed one
    edited = mirror.read_text().replace("Use SQLite everywhere", "Use SQLite, WAL mode")
    mirror.write_text(edited + "\n## Conventions\n\n- **lint**: ruff check src\n")
    proc = run_mnemo(["memory", "show", "--json"], cwd=work, home=isolated_home)
    assert "MEMORY.md edits picked up: 2 added or changed" in proc.stderr
    picked = entries(json.loads(proc.stdout))
    assert picked["db-choice"]["value"] == "Use SQLite, WAL mode"
    assert picked["lint"]["kind"] == "convention"


def test_del_pin_unpin_remember_forget(tmp_path: Path, isolated_home: Path) -> None:
    work = repo(tmp_path)
    mnemo(["memory", "set", "ci", "CI runs on GitHub Actions"], work, isolated_home)
    mnemo(["memory", "set", "deploy", "Deploy via GitHub Actions to fly.io"], work, isolated_home)
    note = mnemo(["memory", "remember", "Always run ruff first"], work, isolated_home)
    assert note.startswith("remembered always-run-ruff-first (note)")
    trait = mnemo(["memory", "remember", "--global", "Prefers short answers"], work, isolated_home)
    assert trait.strip() == "remembered trait:1 [preferences] Prefers short answers"

    assert mnemo(["memory", "pin", "ci"], work, isolated_home).startswith("pinned ci")
    mnemo(["memory", "pin", "trait:1"], work, isolated_home)
    data = show(work, isolated_home)
    assert entries(data)["ci"]["pinned"] and data["core"][0]["pinned"]
    assert "**ci** (pinned)" in (work / ".mnemo" / "MEMORY.md").read_text()
    mnemo(["memory", "unpin", "ci"], work, isolated_home)
    assert not entries(show(work, isolated_home))["ci"]["pinned"]

    several = failing(["memory", "forget", "github actions"], work, isolated_home)
    assert "2 items match 'github actions', nothing forgotten" in several
    assert "nothing in memory matches" in failing(["memory", "forget", "k8s"], work, isolated_home)
    gone = mnemo(["memory", "forget", "fly.io"], work, isolated_home)
    assert gone.startswith("forgot deploy (fact)")
    mnemo(["memory", "forget", "trait:1"], work, isolated_home)
    mnemo(["memory", "del", "always-run-ruff-first"], work, isolated_home)
    assert "no memory entry named 'nope'" in failing(["memory", "del", "nope"], work, isolated_home)
    data = show(work, isolated_home)
    assert list(entries(data)) == ["ci"] and data["core"] == []
    mirror = (work / ".mnemo" / "MEMORY.md").read_text()
    assert "**deploy**" not in mirror and "always-run-ruff-first" not in mirror


def test_search_and_sessions(tmp_path: Path, isolated_home: Path) -> None:
    work = repo(tmp_path)
    mnemo(["memory", "set", "db-choice", "Use SQLite for storage"], work, isolated_home)
    hits = [
        json.loads(line)
        for line in mnemo(
            ["memory", "search", "sqlite", "--json"], work, isolated_home
        ).splitlines()
    ]
    assert [(h["source"], h["ref"]) for h in hits] == [("project", "entry:db-choice")]
    none = mnemo(["memory", "search", "kubernetes"], work, isolated_home)
    assert "nothing in memory matches 'kubernetes'" in none
    assert mnemo(["memory", "sessions", "--json"], work, isolated_home) == ""
    assert "no sessions yet" in mnemo(["memory", "sessions"], work, isolated_home)


def test_project_list_rename_workdir_delete(tmp_path: Path, isolated_home: Path) -> None:
    app, lib = repo(tmp_path, "app"), repo(tmp_path, "lib")
    mnemo(["memory", "set", "db-choice", "Use SQLite"], app, isolated_home)
    mnemo(["memory", "set", "lang", "Rust"], lib, isolated_home)
    listed = json.loads(mnemo(["project", "list", "--json"], app, isolated_home))
    assert {p["name"]: p["current"] for p in listed} == {"app": True, "lib": False}
    data_dir = Path(next(p["data_dir"] for p in listed if p["name"] == "app"))

    assert mnemo(["project", "rename", "app", "web app"], app, isolated_home).strip() == (
        "renamed app to web app"
    )
    data = show(app, isolated_home)
    assert data["project"] == "web app" and "db-choice" in entries(data)  # memory kept
    assert (app / ".mnemo" / "MEMORY.md").read_text().startswith("# Project memory: web app")
    again = json.loads(mnemo(["project", "list", "--json"], app, isolated_home))
    assert next(p["data_dir"] for p in again if p["name"] == "web app") == str(data_dir)
    assert "no project named 'app'" in failing(
        ["project", "rename", "app", "x"], app, isolated_home
    )

    moved = tmp_path / "app-moved"
    app.rename(moved)
    mnemo(["project", "workdir", "web app", str(moved)], tmp_path, isolated_home)
    assert "db-choice" in entries(show(moved, isolated_home))
    by_name = show(tmp_path, isolated_home, "--project", "lib")
    assert list(entries(by_name)) == ["lang"]

    refused = run_mnemo(["project", "delete", "*"], cwd=tmp_path, home=isolated_home, stdin="no\n")
    assert refused.returncode == 1 and "nothing deleted" in refused.stderr
    assert "web app" in refused.stdout and "lib" in refused.stdout
    assert len(json.loads(mnemo(["project", "list", "--json"], tmp_path, isolated_home))) == 2
    confirmed = mnemo(["project", "delete", "li*"], tmp_path, isolated_home, stdin="delete\n")
    assert "deleted lib" in confirmed
    assert mnemo(["project", "delete", "web app", "--yes"], tmp_path, isolated_home).endswith(
        "deleted web app\n"
    )
    assert json.loads(mnemo(["project", "list", "--json"], tmp_path, isolated_home)) == []
    assert not data_dir.exists()
    assert (moved / ".mnemo" / "MEMORY.md").is_file()  # files in the work directory stay
    assert "no project matches" in failing(["project", "delete", "zzz"], tmp_path, isolated_home)


def test_memory_alone_shows_memory_like_the_slash_command(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = repo(tmp_path)
    mnemo(["memory", "set", "db-choice", "Use SQLite", "--kind", "decision"], work, isolated_home)
    alone = run_mnemo(["memory"], cwd=work, home=isolated_home)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert alone.stdout == mnemo(["memory", "show"], work, isolated_home)
    assert "db-choice: Use SQLite  (active)" in alone.stdout
    assert json.loads(mnemo(["memory", "--json"], work, isolated_home))["project"] == "app"
