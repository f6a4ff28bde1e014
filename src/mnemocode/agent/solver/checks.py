"""Which of the project's own checks cover a set of changed files: ruff/flake8 and
mypy/pyright from the project's config, pytest for the tests that touch the
change, eslint and tsc, go vet and go test of the packages, cargo check."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PY = (".py", ".pyi")
JS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
TS = (".ts", ".tsx", ".mts", ".cts")
ESLINT_CONFIGS = (
    "eslint.config.js", "eslint.config.mjs", "eslint.config.cjs", "eslint.config.ts",
    ".eslintrc", ".eslintrc.js", ".eslintrc.cjs", ".eslintrc.json", ".eslintrc.yml",
    ".eslintrc.yaml",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # "ruff", "mypy", "pytest", …
    command: str
    # Exit codes that mean "nothing failed" besides 0 (pytest's 5: no tests ran).
    ok_codes: tuple[int, ...] = (0,)


def find_tool(root: Path, name: str) -> str | None:
    """The project's own copy first (.venv, node_modules), then PATH, then beside
    the Python running mnemo."""
    for folder in (".venv/bin", "venv/bin", "node_modules/.bin"):
        candidate = root / folder / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else None


def detect(root: Path, changed: Sequence[str], all_files: Sequence[str]) -> list[Check]:
    files = sorted({f for f in changed if (root / f).is_file()})
    checks = _python(root, [f for f in files if f.endswith(PY)], all_files)
    checks += _javascript(root, [f for f in files if f.endswith(JS)])
    checks += _go(root, [f for f in files if f.endswith(".go")])
    if any(f.endswith(".rs") for f in files) and (root / "Cargo.toml").is_file():
        checks += _tool(root, "cargo", "cargo", ["check", "--quiet", "--offline"])
    return checks


def _tool(
    root: Path, name: str, exe: str, args: list[str], ok: tuple[int, ...] = (0,)
) -> list[Check]:
    found = find_tool(root, exe)
    return [Check(name, shlex.join([found, *args]), ok)] if found else []


# ---- Python ----------------------------------------------------------------------------


def _pyproject_tools(root: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    tool = data.get("tool", {})
    return tool if isinstance(tool, dict) else {}


def _ini_has(root: Path, names: Sequence[str], section: str) -> bool:
    for name in names:
        try:
            if f"[{section}" in (root / name).read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def _python(root: Path, files: list[str], all_files: Sequence[str]) -> list[Check]:
    if not files:
        return []
    tool = _pyproject_tools(root)
    checks: list[Check] = []
    if "ruff" in tool or (root / "ruff.toml").is_file() or (root / ".ruff.toml").is_file():
        checks += _tool(root, "ruff", "ruff", ["check", "--no-cache", *files])
    if (root / ".flake8").is_file() or _ini_has(root, ["setup.cfg", "tox.ini"], "flake8"):
        checks += _tool(root, "flake8", "flake8", files)
    if (
        "mypy" in tool
        or (root / "mypy.ini").is_file()
        or (root / ".mypy.ini").is_file()
        or (_ini_has(root, ["setup.cfg"], "mypy"))
    ):
        checks += _tool(root, "mypy", "mypy", ["--cache-dir=/dev/null", *files])
    if "pyright" in tool or (root / "pyrightconfig.json").is_file():
        checks += _tool(root, "pyright", "pyright", files)
    tests = affected_tests(root, files, all_files)
    if tests:
        # ``python -m pytest`` puts the project root on sys.path, as users run it.
        args = [_python_of(root), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
        checks.append(Check("pytest", shlex.join(args), (0, 5)))
    return checks


def _python_of(root: Path) -> str:
    for folder in (".venv", "venv"):
        candidate = root / folder / "bin" / "python"
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def is_test(path: str) -> bool:
    name = Path(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def module_names(path: str) -> list[str]:
    """Dotted names a changed file is imported by (``src/pkg/mod.py`` → ``pkg.mod``)."""
    parts = list(Path(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    if len(parts) > 1 and parts[0] in {"src", "lib"}:
        parts.pop(0)
    return [".".join(parts[i:]) for i in range(len(parts))] if parts else []


def affected_tests(root: Path, changed: Sequence[str], all_files: Sequence[str]) -> list[str]:
    """Changed test files, and test files importing a changed module."""
    found = {f for f in changed if is_test(f)}
    patterns = []
    for path in changed:
        if is_test(path):
            continue
        for dotted in module_names(path):
            parent, _, last = dotted.rpartition(".")
            name = re.escape(dotted)
            alternatives = [rf"import\s+{name}\b", rf"from\s+{name}\s+import\b"]
            if parent:
                alternatives.append(rf"from\s+{re.escape(parent)}\s+import\s[^\n]*\b{last}\b")
            patterns.append("|".join(alternatives))
    if patterns:
        imports = re.compile(rf"^\s*(?:{'|'.join(patterns)})", re.MULTILINE)
        for test in (f for f in all_files if is_test(f) and f not in found):
            try:
                text = (root / test).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if imports.search(text):
                found.add(test)
    return sorted(found)


# ---- JavaScript / TypeScript, Go ---------------------------------------------------------


def _javascript(root: Path, files: list[str]) -> list[Check]:
    if not files:
        return []
    checks: list[Check] = []
    if any((root / name).is_file() for name in ESLINT_CONFIGS) or _package_key(
        root, "eslintConfig"
    ):
        checks += _tool(root, "eslint", "eslint", files)
    if any(f.endswith(TS) for f in files) and (root / "tsconfig.json").is_file():
        checks += _tool(root, "tsc", "tsc", ["--noEmit", "-p", "tsconfig.json"])
    return checks


def _package_key(root: Path, key: str) -> bool:
    try:
        data = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and key in data


def _go(root: Path, files: list[str]) -> list[Check]:
    if not files or not (root / "go.mod").is_file():
        return []
    packages = sorted({"./" + Path(f).parent.as_posix() for f in files})
    packages = ["." if p == "./." else p for p in packages]
    return _tool(root, "go vet", "go", ["vet", *packages]) + _tool(
        root, "go test", "go", ["test", *packages]
    )
