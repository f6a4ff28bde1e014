"""Permission rules: narrow "always allow" answers and the auto-mode whitelist.

A command rule is an exact command (the same words, compared after shell
quoting) plus the directory it runs in; with ``pattern = true`` a trailing ``*``
word takes any further arguments. A tool rule is a tool plus a path pattern —
never a whole tool everywhere, never `/` or `~` — but for an MCP tool
(``mcp__<server>__<tool>``, which has no path): the rule names the tool, or with
``mcp__<server>__*`` every tool of one server. Rules live in TOML: global
(`~/.mnemo/rules.toml`) and per project (in the project's state folder, outside
the repository). The whitelist's entries and their flag checks are in
``whitelist.py``."""

from __future__ import annotations

import fnmatch
import os
import shlex
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mnemocode.core.errors import ConfigError
from mnemocode.safety.whitelist import ENTRIES, Entry, UserEntry, Where, covers, entry_for
from mnemocode.safety.whitelist import exact_or_pattern as _exact_or_pattern

Scope = Literal["project", "global"]

# Commands auto mode runs without asking even though they are not read-only: the
# usual build and test entry points, each with its flags checked (whitelist.py).
# `/auto whitelist reset` restores these.
DEFAULT_WHITELIST = tuple(ENTRIES)


@dataclass(frozen=True, slots=True)
class Rule:
    tool: str
    scope: Scope
    # shell_exec: the exact command (rules saved before exact matching, which
    # matched by prefix, are read as exact commands too)
    prefix: str = ""
    directory: str = ""  # shell_exec: the directory the command runs in
    path_glob: str = ""  # other tools: the path argument must match
    created: str = ""
    pattern: bool = False  # shell_exec: a trailing `*` word takes any further arguments

    def describe(self) -> str:
        if self.tool == "shell_exec":
            what = "any command starting" if self.wildcard else "exactly"
            return f"run {what} `{self.prefix}` in {self.directory} ({self.scope})"
        if is_mcp_rule(self):
            return f"call {self.tool} ({self.scope})"
        return f"{self.tool} on {self.path_glob} ({self.scope})"

    @property
    def wildcard(self) -> bool:
        return self.pattern and self.prefix.split()[-1:] == ["*"]

    def matches(self, argv: Sequence[str]) -> bool:
        try:
            words = shlex.split(self.prefix)
        except ValueError:
            return False
        return bool(words) and _exact_or_pattern(words, argv, pattern=self.pattern)


MCP_PREFIX = "mcp__"


def is_mcp_rule(rule: Rule) -> bool:
    return rule.tool.startswith(MCP_PREFIX) and not rule.path_glob


def _check_narrow(rule: Rule, home: Path) -> None:
    if rule.tool == "shell_exec":
        if not rule.prefix.strip():
            raise ValueError("a command rule needs a command")
        if rule.pattern and rule.prefix.split() in (["*"], []):
            raise ValueError("a pattern needs words before its `*`")
        where = Path(rule.directory).resolve()
        if where in {Path("/"), home.resolve()}:
            raise ValueError(f"a command rule may not cover {where}: name a project folder")
    elif rule.tool.startswith(MCP_PREFIX) and not rule.path_glob:
        server, sep, tool = rule.tool[len(MCP_PREFIX) :].partition("__")
        if not sep or not tool or "*" in server or (("*" in tool) and tool != "*"):
            raise ValueError("an MCP rule names one server: mcp__server__tool or mcp__server__*")
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
            hit = next((r for r in rules if r.matches(argv) and _same_dir(r, cwd)), None)
            if hit is None:
                return None
            matched = hit
        return matched

    def match_tool(self, tool: str) -> Rule | None:
        """An MCP rule covering ``tool``: its own, or its server's ``mcp__server__*``."""
        server = tool.rpartition("__")[0]
        for rule in self.rules():
            if is_mcp_rule(rule) and rule.tool in {tool, f"{server}__*"}:
                return rule
        return None

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
        """The entries, as stored: built-in names and the user's commands."""
        data = self._load("project")
        return list(data.get("auto", {}).get("whitelist", DEFAULT_WHITELIST))

    def whitelist_entries(self) -> list[Entry | UserEntry]:
        found: list[Entry | UserEntry] = []
        for text in self.whitelist():
            try:
                found.append(entry_for(text))
            except ValueError:
                continue  # an unreadable hand-edited item allows nothing
        return found

    def whitelist_shown(self) -> list[str]:
        """How /auto whitelist list shows each entry."""
        return [
            f"{e.shown()} (checked flags)" if isinstance(e, Entry) else e.shown()
            for e in self.whitelist_entries()
        ]

    def _set_whitelist(self, items: list[str]) -> None:
        data = self._load("project")
        data.setdefault("auto", {})["whitelist"] = items
        self._save("project", data)

    def whitelist_add(self, command: str) -> str:
        """Add the user's command (exact; a trailing `*` takes any further arguments);
        returns it as stored."""
        text = command.strip()
        if not text:
            raise ValueError("name a command, e.g. `npm run e2e` or `npm run e2e *`")
        if text not in ENTRIES:
            text = UserEntry.parse(text).text()
        items = self.whitelist()
        if text not in items:
            self._set_whitelist([*items, text])
        return text

    def whitelist_remove(self, command: str) -> bool:
        items = self.whitelist()
        text = command.strip()
        if text not in items and text not in ENTRIES:
            try:
                text = UserEntry.parse(text).text()
            except ValueError:
                return False
        if text not in items:
            return False
        self._set_whitelist([i for i in items if i != text])
        return True

    def whitelist_reset(self) -> None:
        """Back to the defaults; rules are untouched."""
        data = self._load("project")
        data.get("auto", {}).pop("whitelist", None)
        self._save("project", data)

    def whitelist_refusal(
        self, argvs: Sequence[Sequence[str]], *, workdir: Path, cwd: Path, decided_by: str = ""
    ) -> str | None:
        """Why ``argvs`` (one compound command) is not whitelisted; None when it is.

        ``decided_by`` is the rule of the shell analysis' verdict: it must come from
        one of the commands (or a redirection), not from a part the analysis could
        not read (a syntax error, a misread, an assignment such as LD_PRELOAD=)."""
        from mnemocode.safety.shell import analyse_command

        rules_seen = {"", "write:redirect"}

        def read_only(argv: Sequence[str], where: Path) -> bool:
            verdict = analyse_command(shlex.join(argv), cwd=where, home=self.home)
            rules_seen.add(verdict.rule)
            return verdict.action == "allow" and not verdict.network

        where = Where(workdir=workdir, cwds=[cwd], home=self.home, read_only=read_only)
        why = covers(argvs, self.whitelist_entries(), where)
        if why is None and decided_by:
            for argv in argvs:
                read_only(argv, cwd)
            if decided_by not in rules_seen:
                why = f"the shell analysis flags more than its commands ({decided_by})"
        return why

    def whitelisted(
        self, argvs: Sequence[Sequence[str]], *, workdir: Path, cwd: Path, decided_by: str = ""
    ) -> bool:
        """Every simple command is on the whitelist with acceptable flags, or read-only."""
        why = self.whitelist_refusal(argvs, workdir=workdir, cwd=cwd, decided_by=decided_by)
        return why is None


def _stored(rule: Rule) -> dict[str, Any]:
    data = {k: v for k, v in asdict(rule).items() if v and k != "scope"}
    return data


def _stored_cmp(raw: dict[str, Any]) -> tuple[str, ...]:
    keys = ("tool", "prefix", "directory", "path_glob", "pattern")
    return tuple(str(raw.get(k, "")) for k in keys)


def _same_dir(rule: Rule, cwd: Path) -> bool:
    return Path(rule.directory).resolve() == cwd.resolve()
