"""The files being changed in the work tree (git) weigh in the ranking."""

from __future__ import annotations

from pathlib import Path

from mnemocode.agent.codemap import CodeMap
from mnemocode.agent.codemap.changes import changed_files
from mnemocode.agent.codemap.session import focus_for
from tests.agent.codemap.repo import git, make_repo

MODULES = {
    f"pkg/mod{i}.py": f"def helper_{i}(value: int) -> int:\n    return value + {i}\n"
    for i in range(8)
}


def test_modified_staged_and_new_files_are_changed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", MODULES)
    assert changed_files(repo) == ()
    (repo / "pkg/mod3.py").write_text("def helper_3(value: int) -> int:\n    return 0\n")
    (repo / "pkg/mod5.py").write_text("def helper_5() -> None:\n    pass\n")
    git(repo, "add", "pkg/mod5.py")
    (repo / "pkg/new.py").write_text("def fresh() -> None:\n    pass\n")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "debug.log").write_text("noise\n")
    assert changed_files(repo) == (".gitignore", "pkg/mod3.py", "pkg/mod5.py", "pkg/new.py")
    assert changed_files(repo / "pkg") == ("mod3.py", "mod5.py", "new.py")  # relative


def test_outside_a_repository_nothing_is_changed(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    assert changed_files(tmp_path) == ()


def test_the_file_being_edited_rises_in_the_map(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", MODULES)
    cm = CodeMap(repo)
    before = [r.path for r in cm.rank(focus_for(cm, repo, "tidy up the helpers"))]
    (repo / "pkg/mod6.py").write_text(MODULES["pkg/mod6.py"] + "\n# work in progress\n")
    focus = focus_for(cm, repo, "tidy up the helpers")
    assert focus.changed == ("pkg/mod6.py",)
    after = [r.path for r in cm.rank(focus)]
    assert after.index("pkg/mod6.py") < before.index("pkg/mod6.py")
    assert after[0] == "pkg/mod6.py"
