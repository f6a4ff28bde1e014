"""`.mnemo/MEMORY.md` stays out of the user's `git status` unless the team commits it
(`[memory] commit_mirror = true`): real git, the real CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import run_mnemo, write_global_config


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True,
        env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return done.stdout


def repo(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    git(work, "init", "-q")
    (work / "app.py").write_text("print('hi')\n")
    git(work, "add", "app.py")
    git(work, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init")
    return work


def remember(work: Path, home: Path) -> None:
    done = run_mnemo(["memory", "set", "test-command", "pytest -x"], cwd=work, home=home)
    assert done.returncode == 0, done.stderr
    assert (work / ".mnemo" / "MEMORY.md").is_file()


def test_memory_md_is_not_in_git_status_by_default(tmp_path: Path, isolated_home: Path) -> None:
    work = repo(tmp_path)
    remember(work, isolated_home)
    assert git(work, "status", "--porcelain", "--untracked-files=all") == ""
    assert "MEMORY.md" in (work / ".mnemo" / ".gitignore").read_text()


def test_commit_mirror_lets_the_team_commit_it(tmp_path: Path, isolated_home: Path) -> None:
    work = repo(tmp_path)
    remember(work, isolated_home)  # the default first: mnemo's .gitignore is written
    write_global_config(isolated_home, "[memory]\ncommit_mirror = true\n")
    remember(work, isolated_home)
    assert not (work / ".mnemo" / ".gitignore").exists()
    assert git(work, "status", "--porcelain", "--untracked-files=all") == "?? .mnemo/MEMORY.md\n"


def test_a_gitignore_of_the_users_own_is_left_alone(tmp_path: Path, isolated_home: Path) -> None:
    work = repo(tmp_path)
    (work / ".mnemo").mkdir()
    (work / ".mnemo" / ".gitignore").write_text("notes/\n")
    remember(work, isolated_home)
    assert (work / ".mnemo" / ".gitignore").read_text() == "notes/\n"
    status = git(work, "status", "--porcelain", "--untracked-files=all")
    assert ".mnemo/MEMORY.md" in status
