"""Folder trust: a project's own files have no effect until the user trusts the folder.

What a folder can ask for is listed by :func:`folder_request`: mnemo's project config
(``mnemo.toml``, ``.mnemo/config.toml``) and ``.mcp.json`` servers (started only in a
trusted folder), the skills of ``.mnemo/skills``, ``.claude/skills`` and
``.agents/skills`` (loaded only in a trusted folder); the custom tools of
``.mnemo/tools/*.py`` (imported only in a trusted folder); the hooks of
``.claude/settings.json`` and ``.claude/settings.local.json`` (run only in a trusted
folder; the question names each command); the agent definitions of ``.mnemo/agents``
and ``.claude/agents`` (offered only in a trusted folder).

Answers live in ``<mnemo home>/trust.toml`` — never in the repository — one table per
resolved project root::

    [folders."/home/me/src/app"]
    decision = "trusted"            # or "untrusted"
    at = "2025-01-01T12:00:00+00:00"
    fingerprint = "sha256:…"        # of the files listed above, names and bytes
    endpoints = ["http://…/v1 (openai, key from $KEY)"]  # confirmed project-only models

A trusted folder whose files changed since (another fingerprint) counts as not
trusted until it is trusted again: a ``git pull`` cannot widen what was agreed to.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import tomlkit

from mnemocode.config.paths import find_project_root, mnemo_home, project_config_paths
from mnemocode.config.writer import atomic_write_text
from mnemocode.core.errors import ConfigError

TRUST_FILE = "trust.toml"
Decision = Literal["trusted", "untrusted"]
#: none: nothing to trust; unknown: never answered; changed: trusted, files changed since.
Status = Literal["none", "trusted", "untrusted", "unknown", "changed"]


@dataclass(frozen=True)
class Trust:
    """The answer :func:`~mnemocode.config.loader.load_settings` takes."""

    trusted: bool = False
    endpoints: frozenset[str] = frozenset()
    """Endpoints of project-only models the user confirmed (see ``clamp.endpoint_of``)."""


@dataclass(frozen=True)
class FolderFile:
    path: Path
    kind: str
    loaded: bool
    """Whether this version of mnemo gives the file any effect."""


@dataclass(frozen=True)
class FolderRequest:
    """What a project folder wants to have an effect."""

    root: Path
    files: tuple[FolderFile, ...]
    fingerprint: str

    @property
    def needs_trust(self) -> bool:
        return any(f.loaded for f in self.files)

    @property
    def config_files(self) -> list[Path]:
        return [f.path for f in self.files if f.kind == "config"]


@dataclass(frozen=True)
class TrustRecord:
    decision: Decision
    at: str
    fingerprint: str
    endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrustCheck:
    """A folder's request, the stored answer, and what that makes of it."""

    request: FolderRequest | None
    record: TrustRecord | None
    status: Status
    trust: Trust = field(default_factory=Trust)


#: Files of other tools' formats a folder may hold, and whether mnemo loads them.
_OTHER_FILES = (
    (".mcp.json", "mcp", True),
    (".claude/settings.json", "hooks", True),
    (".claude/settings.local.json", "hooks", True),
)


def folder_request(cwd: Path, env: Mapping[str, str] | None = None) -> FolderRequest | None:
    """The project root of ``cwd`` and the files in it that want an effect; None
    outside a project or when there are none."""
    root = find_project_root(cwd, env=env)
    if root is None:
        return None
    files = [FolderFile(path, "config", True) for path in project_config_paths(cwd, env=env)]
    files += [
        FolderFile(root / name, kind, loaded and _has_effect(root / name, kind))
        for name, kind, loaded in _OTHER_FILES
        if (root / name).is_file()
    ]
    files += [FolderFile(path, "skills", True) for path in _project_skills(root)]
    files += [FolderFile(path, "tools", True) for path in _project_tools(root)]
    files += [FolderFile(path, "agents", True) for path in _project_agents(root)]
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.path.relative_to(root)).encode() + b"\0")
        digest.update(_read_bytes(file.path) + b"\0")
    return FolderRequest(root.resolve(), tuple(files), f"sha256:{digest.hexdigest()}")


#: Where a project keeps skills (``extensions/skills/discovery.py`` reads the same).
SKILL_DIRS = (".mnemo/skills", ".claude/skills", ".agents/skills")


def _project_skills(root: Path) -> list[Path]:
    """Each ``SKILL.md`` the project brings: instructions for the model."""
    found: list[Path] = []
    for name in SKILL_DIRS:
        try:
            folders = sorted(p for p in (root / name).iterdir() if p.is_dir())
        except OSError:
            continue
        found += [f / "SKILL.md" for f in folders if (f / "SKILL.md").is_file()]
    return found


#: Where a project keeps agent definitions (``extensions/agents/discovery.py`` too).
AGENT_DIRS = (".mnemo/agents", ".claude/agents")


def _project_agents(root: Path) -> list[Path]:
    """Each agent file the project brings: a system prompt and a tool grant."""
    found: list[Path] = []
    for name in AGENT_DIRS:
        try:
            files = sorted((root / name).glob("*.md"))
        except OSError:
            continue
        found += [f for f in files if f.is_file() and f.name.lower() != "readme.md"]
    return found


#: Where a project keeps custom tools (``extensions/tools/setup.py`` reads the same).
PROJECT_TOOLS_DIR = ".mnemo/tools"


def _project_tools(root: Path) -> list[Path]:
    """Each ``*.py`` custom tool file the project brings: code mnemo would import."""
    try:
        files = (root / PROJECT_TOOLS_DIR).glob("*.py")
        return sorted(p for p in files if p.is_file() and not p.name.startswith("_"))
    except OSError:
        return []


def _has_effect(path: Path, kind: str) -> bool:
    """A Claude Code settings file matters here only when it has hooks (one that
    does not parse counts: it cannot be told apart)."""
    if kind != "hooks":
        return True
    try:
        data = json.loads(_read_bytes(path) or b"{}")
    except ValueError:
        return True
    return not isinstance(data, dict) or bool(data.get("hooks"))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def other_wants(file: FolderFile) -> str:
    """One line for a file of another tool's format (MCP servers: each one's command,
    so the question shows what would run)."""
    if file.kind == "skills":
        return f"add skill {file.path.parent.name!r} to the model's instructions ({file.path})"
    if file.kind == "agents":
        return f"offer agent {file.path.stem!r} to the task tool ({file.path})"
    if file.kind == "tools":
        return f"import custom tool code {file.path.name!r} into mnemo ({file.path})"
    try:
        data = json.loads(_read_bytes(file.path) or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if file.kind == "mcp":
        servers = data.get("mcpServers")
        names = (
            ", ".join(_server_line(k, v) for k, v in sorted(servers.items()))
            if isinstance(servers, dict)
            else "?"
        )
        what = f"start MCP servers: {names}"
    else:
        what = f"run hooks: {_hook_lines(data.get('hooks'))}"
    if file.loaded:
        return f"{what} ({file.path.name})"
    return f"{what} ({file.path.name}; not loaded by this version of mnemo)"


def _hook_lines(hooks: Any) -> str:
    """Each hook command with its event (and matcher), in Claude Code's JSON shape."""
    if not isinstance(hooks, dict) or not hooks:
        return "none"
    lines: list[str] = []
    for event, groups in sorted(hooks.items()):
        for group in groups if isinstance(groups, list) else []:
            if not isinstance(group, dict):
                continue
            on = f"{event} {group.get('matcher') or ''}".strip()
            for hook in group.get("hooks") or []:
                command = hook.get("command") if isinstance(hook, dict) else None
                if isinstance(command, str):
                    lines.append(f"{on}: `{command}`")
    return "; ".join(lines) or "none"


def _server_line(name: str, entry: Any) -> str:
    if not isinstance(entry, dict):
        return name
    if isinstance(entry.get("command"), str):
        raw = entry.get("args")
        args = [str(a) for a in raw] if isinstance(raw, list) else []
        return f"{name} (runs `{' '.join([entry['command'], *args])}`)"
    if isinstance(entry.get("url"), str):
        return f"{name} ({entry['url']})"
    return name


class TrustStore:
    """``<mnemo home>/trust.toml``; every change is an atomic replace of the file."""

    def __init__(self, home: Path) -> None:
        self.path = home / TRUST_FILE

    @classmethod
    def for_env(cls, env: Mapping[str, str] | None = None) -> TrustStore:
        return cls(mnemo_home(env))

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror or exc}", path=self.path) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", path=self.path) from exc
        folders = data.get("folders")
        return dict(folders) if isinstance(folders, dict) else {}

    def _write(self, folders: Mapping[str, Any]) -> None:
        doc = tomlkit.document()
        doc.add(tomlkit.comment("Folders you trusted or not (mnemo trust, /permissions)."))
        table = tomlkit.table(is_super_table=True)
        for key in sorted(folders):
            table[key] = folders[key]
        doc["folders"] = table
        atomic_write_text(self.path, tomlkit.dumps(doc))

    def get(self, root: Path) -> TrustRecord | None:
        raw = self._read().get(str(root.resolve()))
        if not isinstance(raw, dict) or raw.get("decision") not in ("trusted", "untrusted"):
            return None
        endpoints = raw.get("endpoints")
        return TrustRecord(
            decision=raw["decision"],
            at=str(raw.get("at", "")),
            fingerprint=str(raw.get("fingerprint", "")),
            endpoints=tuple(str(e) for e in endpoints) if isinstance(endpoints, list) else (),
        )

    def decide(
        self, request: FolderRequest, decision: Decision, endpoints: tuple[str, ...] = ()
    ) -> TrustRecord:
        record = TrustRecord(
            decision=decision,
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            fingerprint=request.fingerprint,
            endpoints=tuple(sorted(set(endpoints))) if decision == "trusted" else (),
        )
        folders = self._read()
        folders[str(request.root)] = {
            "decision": record.decision,
            "at": record.at,
            "fingerprint": record.fingerprint,
            "endpoints": list(record.endpoints),
        }
        self._write(folders)
        return record

    def revoke(self, root: Path) -> bool:
        """Forget the answer for ``root``; False if there was none."""
        folders = self._read()
        if folders.pop(str(root.resolve()), None) is None:
            return False
        self._write(folders)
        return True


def check_trust(
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    store: TrustStore | None = None,
    trust_run: bool = False,
) -> TrustCheck:
    """What the stored answer (or ``--trust`` for this run) makes of ``cwd``'s folder.
    ``--trust`` trusts the folder's config but confirms no new model endpoint."""
    request = folder_request(cwd, env)
    if request is None or not request.needs_trust:
        return TrustCheck(request, None, "none", Trust(trusted=True))
    record = (store or TrustStore.for_env(env)).get(request.root)
    status: Status
    if record is None:
        status = "unknown"
    elif record.decision == "untrusted":
        status = "untrusted"
    else:
        status = "trusted" if record.fingerprint == request.fingerprint else "changed"
    stored = record is not None and record.decision == "trusted"
    endpoints = frozenset(record.endpoints) if record is not None and stored else frozenset()
    trusted = status == "trusted" or trust_run
    return TrustCheck(request, record, status, Trust(trusted=trusted, endpoints=endpoints))


_KIND_WORDS = {
    "config": "project config", "mcp": "MCP servers (.mcp.json)", "hooks": "hooks",
    "skills": "skills", "tools": "custom tools", "agents": "agents",
}  # fmt: skip


def what_is_ignored(request: FolderRequest) -> str:
    """What an untrusted folder's files would do, in words: "MCP servers, skills"."""
    kinds = dict.fromkeys(f.kind for f in request.files if f.loaded)
    return ", ".join(_KIND_WORDS.get(kind, kind) for kind in kinds) or "nothing"


def ignored_notice(check: TrustCheck) -> str | None:
    """The one line a run prints when the folder's config is ignored."""
    if check.trust.trusted or check.request is None or not check.request.config_files:
        return None  # the other files' loaders (MCP, hooks, skills…) each say their own
    files = ", ".join(str(p) for p in check.request.config_files)
    why = {
        "untrusted": "this folder is not trusted (you answered no)",
        "changed": "this folder is not trusted: its files changed since you trusted it",
    }.get(check.status, "this folder is not trusted")
    return (
        f"ignored project config {files}: {why}; "
        f"run `mnemo trust {check.request.root}` or pass --trust for one run"
    )
