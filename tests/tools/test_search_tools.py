"""glob and grep on real files, with both engines (ripgrep and the Python fallback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.files import file_read
from mnemocode.tools.search import (
    find_rg,
    glob,
    glob_files,
    grep,
    grep_lines,
    search_root,
)

ENGINES = ["rg", "python"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "core.py").write_text(
        "def alpha():\n    return 1\n\n\ndef beta():\n    return 2\n"
    )
    (tmp_path / "src" / "main.py").write_text("from pkg.core import alpha\nprint(alpha())\n")
    (tmp_path / "README.md").write_text("Alpha project\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text("def alpha_generated(): pass\n")
    (tmp_path / "debug.log").write_text("alpha in a log\n")
    (tmp_path / "blob.bin").write_bytes(b"alpha\x00\x01\x02")
    return tmp_path


def test_ripgrep_is_available() -> None:
    assert find_rg() is not None, "the pinned ripgrep wheel should provide rg"


@pytest.mark.parametrize("engine", ENGINES)
async def test_glob_honours_gitignore(repo: Path, engine: str) -> None:
    found = {
        p.relative_to(repo).as_posix() for p in await glob_files(repo, "**/*.py", engine=engine)
    }
    assert found == {"src/pkg/core.py", "src/main.py"}
    names = {p.name for p in await glob_files(repo, "*.md", engine=engine)}
    assert names == {"README.md"}


@pytest.mark.parametrize("engine", ENGINES)
async def test_grep_finds_lines_with_numbers(repo: Path, engine: str) -> None:
    lines = await grep_lines(repo, r"def \w+\(", engine=engine)
    assert sorted(lines) == ["src/pkg/core.py:1:def alpha():", "src/pkg/core.py:5:def beta():"]


@pytest.mark.parametrize("engine", ENGINES)
async def test_grep_context_glob_and_case(repo: Path, engine: str) -> None:
    lines = await grep_lines(repo, "ALPHA", ignore_case=True, file_glob="*.py", engine=engine)
    assert {line.split(":")[0] for line in lines} == {"src/pkg/core.py", "src/main.py"}
    context = await grep_lines(repo, "beta", context=1, engine=engine)
    assert (
        "src/pkg/core.py-6-    return 2" in context and "src/pkg/core.py:5:def beta():" in context
    )


async def test_grep_tool_caps_results_and_reports_bad_regex(repo: Path) -> None:
    (repo / "many.txt").write_text("".join(f"hit {i}\n" for i in range(500)))
    ctx = ToolContext(cwd=repo, sandbox=LocalSandbox())
    result = await grep.run(ToolCall("1", "grep", {"pattern": "hit", "max_results": 20}), ctx)
    assert result.text.count("\n") == 20 and "480 more lines" in result.text
    bad = await grep.run(ToolCall("2", "grep", {"pattern": "("}), ctx)
    assert bad.is_error and "invalid regex" in bad.text


async def test_glob_tool_reports_no_match(repo: Path) -> None:
    ctx = ToolContext(cwd=repo, sandbox=LocalSandbox())
    result = await glob.run(ToolCall("1", "glob", {"pattern": "*.rs"}), ctx)
    assert result.text == "No files match '*.rs'."


@pytest.mark.parametrize("engine", ENGINES)
async def test_grep_paths_are_relative_to_the_work_directory(repo: Path, engine: str) -> None:
    """A hit's path opens with file_read as it is: relative to the work directory,
    whatever folder or file the search was given (as glob's are)."""
    for path, context in [("src", 0), ("src/pkg", 1), ("src/pkg/core.py", 1), ("./src/", 0)]:
        root = search_root(repo, path)
        lines = await grep_lines(root, "beta", context=context, base=repo, engine=engine)
        assert "src/pkg/core.py:5:def beta():" in lines, (path, lines)
        if context:
            assert "src/pkg/core.py-6-    return 2" in lines, (path, lines)


async def test_grep_and_glob_tools_name_files_file_read_opens(repo: Path) -> None:
    ctx = ToolContext(cwd=repo, sandbox=LocalSandbox())
    hit = (await grep.run(ToolCall("1", "grep", {"pattern": "beta", "path": "src"}), ctx)).text
    assert hit == "src/pkg/core.py:5:def beta():"
    listed = await glob.run(ToolCall("2", "glob", {"pattern": "*.py", "path": "src/pkg"}), ctx)
    assert listed.text == "src/pkg/core.py"
    for path in (hit.split(":")[0], listed.text):
        read = await file_read.run(ToolCall("3", "file_read", {"path": path, "force": True}), ctx)
        assert not read.is_error and "def beta" in read.text


@pytest.mark.parametrize("engine", ENGINES)
async def test_paths_outside_the_work_directory_are_absolute(tmp_path: Path, engine: str) -> None:
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir()
    other.mkdir()
    (other / "notes.txt").write_text("needle here\n")
    root = search_root(work, "../other")
    lines = await grep_lines(root, "needle", base=work, engine=engine)
    assert lines == [f"{other / 'notes.txt'}:1:needle here"]
    ctx = ToolContext(cwd=work, sandbox=LocalSandbox())
    listed = await glob.run(ToolCall("2", "glob", {"pattern": "*.txt", "path": "../other"}), ctx)
    assert listed.text == str(other / "notes.txt")


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_glob_with_a_folder_matches_the_shown_path(repo: Path, engine: str) -> None:
    root = search_root(repo, "src")
    lines = await grep_lines(root, "alpha", file_glob="src/pkg/*.py", base=repo, engine=engine)
    assert lines == ["src/pkg/core.py:1:def alpha():"]
