"""AGENTS.md discovery and the stable system prefix."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from mnemocode.agent.context import SystemPrefix
from mnemocode.agent.instructions import find_instructions


def test_home_then_root_down_to_cwd_with_claude_md_fallback(tmp_path: Path) -> None:
    home, repo = tmp_path / "home", tmp_path / "repo"
    sub = repo / "pkg" / "deep"
    sub.mkdir(parents=True)
    home.mkdir()
    (repo / ".git").mkdir()
    (home / "AGENTS.md").write_text("global: use British spelling")
    (repo / "AGENTS.md").write_text("root: run pytest -q")
    (repo / "CLAUDE.md").write_text("ignored: AGENTS.md exists here")
    (repo / "pkg" / "CLAUDE.md").write_text("pkg: no new dependencies")
    (sub / "AGENTS.md").write_text("deep: keep functions short")
    (tmp_path / "AGENTS.md").write_text("outside the repository: not read")

    found = find_instructions(sub, home)

    assert [f.text for f in found] == [
        "global: use British spelling",
        "root: run pytest -q",
        "pkg: no new dependencies",
        "deep: keep functions short",
    ]


def test_without_a_repository_only_cwd_and_home_count(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "a" / "b"
    work.mkdir(parents=True)
    home.mkdir()
    (tmp_path / "a" / "AGENTS.md").write_text("parent folder, not a repo root")
    (work / "AGENTS.md").write_text("here")
    assert [f.text for f in find_instructions(work, home)] == ["here"]


def test_prefix_is_byte_identical_when_rebuilt_the_same_day(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("be brief")
    (tmp_path / ".git").mkdir()
    items = find_instructions(tmp_path, tmp_path / "nohome")
    one = SystemPrefix.build(tmp_path, items, today=date(2026, 11, 21))
    two = SystemPrefix.build(tmp_path, items, today=date(2026, 11, 21))
    assert one.text == two.text
    assert one.blocks[-1].cache
    assert "be brief" in one.text and str(tmp_path) in one.text
