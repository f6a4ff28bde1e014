"""Permission rules: narrow "always allow" answers and the auto-mode whitelist.

A rule is an exact command prefix plus the directory it runs in, or a tool plus
a path pattern — never a whole tool everywhere, never `/` or `~`. Rules live in
TOML: global (`~/.mnemo/rules.toml`) and per project (in the project's state
folder, outside the repository)."""

from __future__ import annotations

import fnmatch
import os
import shlex
import tomllib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mnemocode.core.errors import ConfigError

Scope = Literal["project", "global"]

# Commands auto mode runs without asking even though they are not read-only:
# the usual build and test entry points. `/auto whitelist reset` restores these.
DEFAULT_WHITELIST = (
    "pytest",
    "python -m pytest",
    "npm test",
    "npm run test",
    "npm run build",
    "npm run lint",
    "cargo build",
    "cargo test",
    "cargo check",
    "go build",
    "go test",
    "go vet",
    "make",
    "ruff check",
    "ruff format",
    "mypy",
    "tsc",
    "git add",
    "git commit",
)


@dataclass(frozen=True, slots=True)
class Rule:
    tool: str
    scope: Scope
    prefix: str = ""  # shell_exec: the command's words must start with these
    directory: str = ""  # shell_exec: the directory the command runs in
    path_glob: str = ""  # other tools: the path argument must match
    created: str = ""

    def describe(self) -> str:
        if self.tool == "shell_exec":
            return f"run `{self.prefix} …` in {self.directory} ({self.scope})"
        return f"{self.tool} on {self.path_glob} ({self.scope})"


def _check_narrow(rule: Rule, home: Path) -> None:
    if rule.tool == "shell_exec":
        if not rule.prefix.strip():
            raise ValueError("a command rule needs a command prefix")
        where = Path(rule.directory).resolve()
        if where in {Path("/"), home.resolve()}:
            raise ValueError(f"a command rule may not cover {where}: name a project folder")
    elif rule.path_glob.strip() in {"", "*", "**", "/", "/**", "~", "~/**"}:
        raise ValueError("a tool rule needs a path pattern narrower than everything")


class RuleStore:
    def __init__(self, *, global_path: Path, project_path: Path, home: Path) -> None:
        self.paths: dict[Scope, Path] = {"global": global_path, "project": project_path}
        self.home = home

    # ---- files ---------------------------------------------------------------------

    def _load(self, scope: Scope) -> dict[str, Any]:
        path = self.paths[scope]
        if not path.is_file():
            return {}
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", path=path) from exc

    def _save(self, scope: Scope, data: dict[str, Any]) -> None:
        import tomlkit

        path = self.paths[scope]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(tomlkit.dumps(data), encoding="utf-8")
        os.replace(tmp, path)

    # ---- rules ---------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        found: list[Rule] = []
        for scope in ("project", "global"):
            for raw in self._load(scope).get("rules", []):
                found.append(Rule(**{**raw, "scope": scope}))
        return found

    def add(self, rule: Rule) -> Rule:
        _check_narrow(rule, self.home)
        stamped = Rule(
            **{**asdict(rule), "created": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        data = self._load(rule.scope)
        entries = [
            r for r in data.get("rules", []) if _stored_cmp(r) != _stored_cmp(_stored(stamped))
        ]
        data["rules"] = [*entries, _stored(stamped)]
        self._save(rule.scope, data)
        return stamped

    def remove(self, index: int) -> Rule:
        """Remove the rule at ``index`` of ``rules()`` (1-based, as /permissions lists them)."""
        current = self.rules()
        if not 1 <= index <= len(current):
            raise ValueError(f"no rule {index}; there are {len(current)}")
        rule = current[index - 1]
        data = self._load(rule.scope)
        target = _stored(rule)
        data["rules"] = [r for r in data.get("rules", []) if _stored_cmp(r) != _stored_cmp(target)]
        self._save(rule.scope, data)
        return rule

    def match_command(self, argvs: list[list[str]], cwd: Path) -> Rule | None:
        """A command rule covering every simple command of a compound command."""
        rules = [r for r in self.rules() if r.tool == "shell_exec"]
        if not argvs:
            return None
        matched: Rule | None = None
        for argv in argvs:
            hit = next(
                (r for r in rules if _prefix_matches(r.prefix, argv) and _same_dir(r, cwd)), None
            )
            if hit is None:
                return None
            matched = hit
        return matched

    def match_path(self, tool: str, path: Path, workdir: Path) -> Rule | None:
        try:
            relative = path.resolve().relative_to(workdir.resolve()).as_posix()
        except ValueError:
            relative = str(path.resolve())
        for rule in self.rules():
            if rule.tool == tool and fnmatch.fnmatch(relative, rule.path_glob):
                return rule
        return None

    # ---- auto-mode whitelist -------------------------------------------------------

    def whitelist(self) -> list[str]:
        data = self._load("project")
        return list(data.get("auto", {}).get("whitelist", DEFAULT_WHITELIST))

    def _set_whitelist(self, items: list[str]) -> None:
        data = self._load("project")
        data.setdefault("auto", {})["whitelist"] = items
        self._save("project", data)

    def whitelist_add(self, prefix: str) -> None:
        if not prefix.split():
            raise ValueError("name a command prefix, e.g. `npm test`")
        items = self.whitelist()
        if prefix not in items:
            self._set_whitelist([*items, " ".join(prefix.split())])

    def whitelist_remove(self, prefix: str) -> bool:
        items = self.whitelist()
        if prefix not in items:
            return False
        self._set_whitelist([i for i in items if i != prefix])
        return True

    def whitelist_reset(self) -> None:
        """Back to the defaults; rules are untouched."""
        data = self._load("project")
        data.get("auto", {}).pop("whitelist", None)
        self._save("project", data)

    def whitelisted(self, argvs: list[list[str]]) -> bool:
        items = self.whitelist()
        return bool(argvs) and all(any(_prefix_matches(p, argv) for p in items) for argv in argvs)


def _stored(rule: Rule) -> dict[str, str]:
    data = {k: v for k, v in asdict(rule).items() if v and k != "scope"}
    return data


def _stored_cmp(raw: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(raw.get(k, "")) for k in ("tool", "prefix", "directory", "path_glob"))


def _prefix_matches(prefix: str, argv: list[str]) -> bool:
    try:
        words = shlex.split(prefix)
    except ValueError:
        return False
    return bool(words) and argv[: len(words)] == words


def _same_dir(rule: Rule, cwd: Path) -> bool:
    return Path(rule.directory).resolve() == cwd.resolve()
