"""``glob`` and ``grep``: gitignore-aware, ripgrep first, a Python fallback.

Both name files relative to the work directory (absolute when outside it), whatever
folder they searched, so the model can pass a hit to ``file_read`` as it is."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import shutil
import sys
from pathlib import Path

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.tools.base import tool

MAX_GLOB_RESULTS = 200
MAX_GREP_RESULTS = 200
MAX_LINE_CHARS = 400
_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", ".mypy_cache", ".ruff_cache"}


def find_rg() -> str | None:
    """ripgrep from the venv's bin (the pinned ``ripgrep`` wheel) or PATH."""
    beside = Path(sys.executable).parent / "rg"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("rg")


def search_root(cwd: Path, path: str | None) -> Path:
    """The folder or file to search: ``path`` against ``cwd``, ``..`` folded (so a
    folder outside the work directory is shown by its absolute path)."""
    if not path:
        return cwd
    candidate = Path(path).expanduser()
    root = Path(os.path.normpath(candidate if candidate.is_absolute() else cwd / candidate))
    if not root.exists():
        raise ToolError(f"{path} does not exist")
    return root


def shown_path(path: Path, base: Path) -> str:
    """``path`` as the tools report it: relative to ``base``, else absolute."""
    try:
        return path.relative_to(base).as_posix() or "."
    except ValueError:
        return str(path)


async def _run(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


# ---- gitignore (fallback engine) -------------------------------------------------


def _gitignore_patterns(root: Path) -> list[str]:
    patterns: list[str] = []
    for folder in (root, *root.parents):
        ignore = folder / ".gitignore"
        if ignore.is_file():
            for raw in ignore.read_text(errors="replace").splitlines():
                line = raw.strip()
                if line and not line.startswith("#") and not line.startswith("!"):
                    patterns.append(line.rstrip("/"))
        if (folder / ".git").exists():
            break
    return patterns


def _ignored(rel: str, name: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        anchored = pattern.lstrip("/")
        if "/" in anchored:
            if fnmatch.fnmatch(rel, anchored) or rel.startswith(anchored + "/"):
                return True
        elif fnmatch.fnmatch(name, anchored):
            return True
    return False


def walk_files(root: Path) -> list[Path]:
    """Every file under ``root`` that git would not ignore (approximately)."""
    patterns = _gitignore_patterns(root)
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        rel_base = base.relative_to(root).as_posix()
        dirs[:] = [
            d
            for d in dirs
            if d not in _SKIP_DIRS and not _ignored(f"{rel_base}/{d}".lstrip("./"), d, patterns)
        ]
        for name in files:
            rel = f"{rel_base}/{name}".lstrip("./")
            if not _ignored(rel, name, patterns):
                found.append(base / name)
    return found


# ---- glob --------------------------------------------------------------------------


async def glob_files(root: Path, pattern: str, *, engine: str = "auto") -> list[Path]:
    rg = find_rg() if engine in {"auto", "rg"} else None
    if engine == "rg" and rg is None:
        raise ToolError("ripgrep is not installed")
    if rg is not None:
        code, out, err = await _run([rg, "--files", "--hidden", "-g", "!.git", "-g", pattern], root)
        if code not in (0, 1):
            raise ToolError(f"glob failed: {err.strip()}")
        paths = [root / line for line in out.splitlines() if line]
    else:
        regex = glob_regex(pattern)
        paths = [p for p in walk_files(root) if regex.fullmatch(_rel(p, root, pattern))]
    return sorted(paths, key=_mtime, reverse=True)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex: ``**/`` any folders, ``*`` and ``?`` within one name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _rel(path: Path, root: Path, pattern: str) -> str:
    """What a pattern is matched against: the name alone for ``*.py``, else the path."""
    return path.relative_to(root).as_posix() if "/" in pattern else path.name


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@tool(read_only=True)
async def glob(ctx: ToolContext, pattern: str, path: str | None = None) -> str:
    """Find files by glob pattern (e.g. "**/*.py"), newest first; honours .gitignore.

    Args:
        pattern: Glob pattern.
        path: Directory to search (default: project root).
    """
    root = search_root(ctx.cwd, path)
    found = await glob_files(root, pattern)
    if not found:
        return f"No files match {pattern!r}."
    shown = [shown_path(p, ctx.cwd) for p in found[:MAX_GLOB_RESULTS]]
    if len(found) > MAX_GLOB_RESULTS:
        shown.append(f"[{len(found) - MAX_GLOB_RESULTS} more; narrow the pattern]")
    return "\n".join(shown)


# ---- grep --------------------------------------------------------------------------


async def grep_lines(
    root: Path,
    pattern: str,
    *,
    file_glob: str | None = None,
    context: int = 0,
    ignore_case: bool = False,
    engine: str = "auto",
    base: Path | None = None,
) -> list[str]:
    """``path:line:text`` match lines (``path-line-text`` for context), by engine;
    paths relative to ``base`` (default: the folder searched)."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(f"invalid regex {pattern!r}: {exc}") from exc
    rg = find_rg() if engine in {"auto", "rg"} else None
    if engine == "rg" and rg is None:
        raise ToolError("ripgrep is not installed")
    if base is None:
        base = root if root.is_dir() else root.parent
    if rg is None:
        return await asyncio.to_thread(_python_grep, root, compiled, file_glob, context, base)
    argv = [rg, "--line-number", "--no-heading", "--color", "never", "--hidden", "-g", "!.git"]
    argv += ["--max-columns", str(MAX_LINE_CHARS), "--max-columns-preview", "--with-filename"]
    if ignore_case:
        argv.append("-i")
    if context:
        argv += ["-C", str(context)]
    if file_glob:
        argv += ["-g", file_glob]
    # ripgrep names each file as the path it was given plus the rest: give it the
    # root as seen from ``base``.
    argv += ["-e", pattern, "--", shown_path(root, base)]
    code, out, err = await _run(argv, base)
    if code not in (0, 1):
        raise ToolError(f"grep failed: {err.strip()}")
    return [line.removeprefix("./") for line in out.splitlines() if line != "--"]


def _python_grep(
    root: Path, regex: re.Pattern[str], file_glob: str | None, context: int, base: Path
) -> list[str]:
    files = [root] if root.is_file() else walk_files(root)
    name_filter = glob_regex(file_glob) if file_glob else None
    out: list[str] = []
    for path in sorted(files):
        rel = shown_path(path, base)
        # As ripgrep does: a glob with a slash is matched against the shown path.
        subject = rel if "/" in (file_glob or "") else path.name
        if name_filter and not name_filter.fullmatch(subject):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        lines = data.decode("utf-8", errors="replace").splitlines()
        hits = [i for i, line in enumerate(lines) if regex.search(line)]
        shown: set[int] = set()
        for i in hits:
            for j in range(max(0, i - context), min(len(lines), i + context + 1)):
                if j not in shown:
                    shown.add(j)
                    sep = ":" if j in hits else "-"
                    out.append(f"{rel}{sep}{j + 1}{sep}{lines[j][:MAX_LINE_CHARS]}")
        if len(out) > MAX_GREP_RESULTS * 4:
            break
    return out


@tool(read_only=True)
async def grep(
    ctx: ToolContext,
    pattern: str,
    path: str | None = None,
    glob: str | None = None,
    context: int = 0,
    ignore_case: bool = False,
    max_results: int = 100,
) -> str:
    """Search file contents with a regex (ripgrep); honours .gitignore.

    Args:
        pattern: Regular expression.
        path: File or directory to search (default: project root).
        glob: Only files matching this glob, e.g. "*.py".
        context: Lines of context around each match.
        ignore_case: Case-insensitive search.
        max_results: Maximum lines to return.
    """
    root = search_root(ctx.cwd, path)
    lines = await grep_lines(
        root,
        pattern,
        file_glob=glob,
        context=min(max(context, 0), 10),
        ignore_case=ignore_case,
        base=ctx.cwd,
    )
    if not lines:
        return f"No matches for {pattern!r}."
    cap = min(max(max_results, 1), MAX_GREP_RESULTS * 2)
    if len(lines) > cap:
        return "\n".join([*lines[:cap], f"[{len(lines) - cap} more lines; narrow the search]"])
    return "\n".join(lines)
