"""``mnemo agent list|show|validate`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_mnemo


def test_validate_names_file_and_line_and_list_shows_the_built_ins(
    tmp_path: Path, isolated_home: Path
) -> None:
    broken = tmp_path / "agents" / "x.md"
    broken.parent.mkdir()
    broken.write_text("---\nname: x\ntools: Read\nmaxTurns: -1\n---\nbody\n")
    done = run_mnemo(["agent", "validate", str(broken.parent)], cwd=tmp_path, home=isolated_home)
    assert done.returncode == 1
    assert f"{broken}:2: `description` is required" in done.stdout
    assert f"{broken}:4: `maxTurns` must be a whole number of at least 1" in done.stdout
    listed = run_mnemo(["agent", "list"], cwd=tmp_path, home=isolated_home)
    assert "review               builtin  model=inherit tools=file_read,glob,grep" in listed.stdout
    shown = run_mnemo(["agent", "show", "planner"], cwd=tmp_path, home=isolated_home)
    assert "permissionMode: plan" in shown.stdout and "You are the planner." in shown.stdout
