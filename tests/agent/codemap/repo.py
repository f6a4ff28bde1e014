"""Small real repositories for the code map's tests: a Python git repository for its
surfaces (tool, /map, CLI), and the checked-in fixture projects of
``tests/data/codemap``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "codemap"

FILES = {
    "pkg/__init__.py": "",
    "pkg/shapes.py": (
        "class Circle:\n"
        "    def __init__(self, radius: float) -> None:\n"
        "        self.radius = radius\n\n"
        "    def area(self) -> float:\n"
        "        return 3.14159 * self.radius**2\n\n\n"
        "def make_circle(radius: float) -> Circle:\n"
        "    return Circle(radius)\n"
    ),
    "pkg/report.py": (
        "from pkg.shapes import make_circle\n\n\n"
        "def summary_line(radius: float) -> str:\n"
        "    return f'area {make_circle(radius).area():.2f}'\n"
    ),
    "pkg/ledger.py": (
        "class LedgerStore:\n"
        "    def flush_pending_rows(self, limit: int = 100) -> int:\n"
        "        return limit\n"
    ),
    "main.py": (
        "from pkg.ledger import LedgerStore\n"
        "from pkg.report import summary_line\n"
        "from pkg.shapes import make_circle\n\n\n"
        "def run() -> None:\n"
        "    print(summary_line(2.0))\n"
        "    print(make_circle(1.0).area())\n"
        "    LedgerStore().flush_pending_rows()\n"
    ),
    "README.md": "# demo\n",
}


def git(root: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(root), "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """``root`` as a committed git repository holding ``files`` (default ``FILES``)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in (FILES if files is None else files).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def many_files(count: int) -> dict[str, str]:
    """``FILES`` and ``count`` more modules (a repository too large to list)."""
    extra = {
        f"pkg/mod_{i:03d}.py": f"def helper_{i:03d}(x: int) -> int:\n    return x + {i}\n"
        for i in range(count)
    }
    return {**FILES, **extra}


def copy_fixture(name: str, dest: Path) -> Path:
    """A copy of the fixture project ``tests/data/codemap/<name>`` at ``dest`` (outside
    this repository, so its own git does not decide the files)."""
    shutil.copytree(DATA / name, dest)
    return dest


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    """``files`` written under ``root`` (text as UTF-8, bytes as they are)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root
