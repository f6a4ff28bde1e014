"""Permission rules: narrow, persisted, and the auto-mode whitelist."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemocode.safety.rules import DEFAULT_WHITELIST, Rule, RuleStore


def store(tmp_path: Path) -> RuleStore:
    return RuleStore(
        global_path=tmp_path / "home" / ".mnemo" / "rules.toml",
        project_path=tmp_path / "state" / "rules.toml",
        home=tmp_path / "home",
    )


def test_command_rule_matches_prefix_in_its_directory_only(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rules = store(tmp_path)
    rules.add(Rule("shell_exec", "project", prefix="npm test", directory=str(work)))
    assert rules.match_command([["npm", "test", "--", "-u"]], work) is not None
    assert rules.match_command([["npm", "install"]], work) is None
    assert rules.match_command([["npm", "test"]], tmp_path) is None  # other directory
    # every part of a compound command must be covered
    assert rules.match_command([["npm", "test"], ["rm", "-rf", "x"]], work) is None
    # persisted: a new store (a new process) sees it
    assert [r.prefix for r in store(tmp_path).rules()] == ["npm test"]


def test_rules_are_never_broad(tmp_path: Path) -> None:
    rules = store(tmp_path)
    with pytest.raises(ValueError, match="may not cover /"):
        rules.add(Rule("shell_exec", "global", prefix="make", directory="/"))
    with pytest.raises(ValueError, match="may not cover"):
        rules.add(Rule("shell_exec", "global", prefix="make", directory=str(tmp_path / "home")))
    with pytest.raises(ValueError, match="narrower"):
        rules.add(Rule("file_write", "project", path_glob="**"))
    with pytest.raises(ValueError, match="prefix"):
        rules.add(Rule("shell_exec", "project", prefix=" ", directory=str(tmp_path)))


def test_tool_rule_by_path_pattern_and_removal(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    rules = store(tmp_path)
    rules.add(Rule("file_write", "project", path_glob="src/*.py"))
    rules.add(Rule("file_edit", "global", path_glob="docs/*"))
    assert rules.match_path("file_write", work / "src" / "a.py", work) is not None
    assert rules.match_path("file_write", work / "setup.py", work) is None
    assert rules.match_path("file_edit", work / "src" / "a.py", work) is None
    removed = rules.remove(1)
    assert removed.path_glob == "src/*.py"
    assert [r.path_glob for r in rules.rules()] == ["docs/*"]
    with pytest.raises(ValueError, match="no rule 5"):
        rules.remove(5)


def test_whitelist_add_remove_and_reset_keeps_rules(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rules = store(tmp_path)
    rules.add(Rule("shell_exec", "project", prefix="make docs", directory=str(work)))
    assert rules.whitelist() == list(DEFAULT_WHITELIST)
    rules.whitelist_add("just   build")
    assert rules.whitelisted([["just", "build", "--release"]])
    assert not rules.whitelisted([["just", "build"], ["curl", "x"]])
    assert rules.whitelist_remove("pytest")
    assert not rules.whitelisted([["pytest", "-q"]])
    rules.whitelist_reset()
    assert rules.whitelist() == list(DEFAULT_WHITELIST)
    assert [r.prefix for r in rules.rules()] == ["make docs"]
