"""Which MCP servers a session may start: ``~/.mnemo/mcp.json``, the project's
``.mcp.json`` (Claude Code's format; only in a trusted folder) and
``[mcp.servers.NAME]`` in mnemo's config, later ones overriding earlier ones by name.

``{"mcpServers": {"name": {"command", "args", "env"} | {"type": "http", "url",
"headers"}}}``; ``"type"`` may also be ``"stdio"`` or ``"sse"``. ``${VAR}`` and
``${VAR:-default}`` are expanded in command, args, env, url and headers; a variable
that is not set (and has no default) keeps that one server from starting, with a
message naming it. A file that is not valid JSON, or has the wrong shape, is an error
naming the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mnemocode.config.settings import McpConfig, McpServerConfig
from mnemocode.core.errors import ConfigError

Transport = Literal["stdio", "http", "sse"]
Source = Literal["user", "project", "config"]
MCP_JSON = ".mcp.json"
USER_MCP_JSON = "mcp.json"
OAUTH_DIR = "mcp-oauth"  # one login file per server, mode 0600
# Server names become part of tool names (``mcp__<server>__<tool>``).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Keys of Claude Code's format with no meaning here: accepted, not used.
_TRANSPORTS: dict[str, Transport] = {"stdio": "stdio", "sse": "sse"}
_KNOWN_KEYS = {"type", "command", "args", "env", "url", "headers", "cwd"}


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One server, its values expanded. ``problem``: why it cannot start (a
    variable not set), said when it would have started."""

    name: str
    transport: Transport
    source: Source
    origin: str  # the file (and line) it was read from, for messages
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    trust_read_only_hints: bool = False
    startup: Literal["eager", "lazy"] = "eager"
    start_timeout_s: float = 30.0
    call_timeout_s: float = 300.0
    problem: str = ""
    # Where a remote server's OAuth login is kept ("" for none: stdio, or its own
    # Authorization header); see ``oauth.py``.
    oauth_file: str = ""

    def describe(self) -> str:
        """One line: how it is reached (no header or env values: they hold tokens)."""
        if self.transport == "stdio":
            return " ".join([self.command, *self.args])
        return f"{self.transport} {self.url}"

    def fingerprint(self) -> str:
        """Changes when how the server is started changes (its cached tool list is then stale)."""
        data = [self.transport, self.command, list(self.args), sorted(self.env), self.url]
        return json.dumps(data)


@dataclass(slots=True)
class ServerList:
    specs: list[ServerSpec] = field(default_factory=list)
    # Lines to tell the user at start: servers not started and why.
    notices: list[str] = field(default_factory=list)


def expand(text: str, env: Mapping[str, str], missing: list[str]) -> str:
    """``${VAR}`` and ``${VAR:-default}``; names of unset variables go to ``missing``."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            missing.append(name)
        return ""

    return _VAR.sub(one, text)


def load_servers(
    config: McpConfig,
    *,
    project_root: Path | None,
    mnemo_home: Path,
    env: Mapping[str, str],
    trusted: bool,
) -> ServerList:
    """Every server this session may use, and what was left out (untrusted folder)."""
    found = ServerList()
    raw: dict[str, tuple[dict[str, Any], Source, str]] = {}
    if config.read_mcp_json:
        for name, entry, origin in read_mcp_json(mnemo_home / USER_MCP_JSON):
            raw[name] = (entry, "user", origin)
        if project_root is not None:
            path = project_root / MCP_JSON
            project = read_mcp_json(path)
            if project and not trusted:
                names = ", ".join(name for name, _e, _o in project)
                found.notices.append(
                    f"MCP servers of {path} not started ({names}): this folder is not "
                    f"trusted; run `mnemo trust {project_root}` or pass --trust"
                )
            elif project:
                for name, entry, origin in project:
                    raw[name] = (entry, "project", origin)
    for name, server in config.servers.items():
        check_name(name, f"[mcp.servers.{name}]")
        entry, source, origin = raw.get(name, ({}, "config", f"[mcp.servers.{name}]"))
        own = server.model_dump(exclude_unset=True)
        if "command" in own or "url" in own:
            entry, source, origin = {}, "config", f"[mcp.servers.{name}]"
        raw[name] = ({**entry, **own}, source, origin)
    for name, (entry, source, origin) in raw.items():
        spec = _spec(name, entry=entry, source=source, origin=origin, config=config, env=env)
        if spec is not None:
            found.specs.append(_with_oauth(spec, mnemo_home))
    return found


def _with_oauth(spec: ServerSpec, mnemo_home: Path) -> ServerSpec:
    """A remote server with no Authorization header of its own may log in with OAuth."""
    headers = {k.lower() for k in spec.headers}
    if spec.transport == "stdio" or "authorization" in headers:
        return spec
    return replace(spec, oauth_file=str(mnemo_home / OAUTH_DIR / f"{spec.name}.json"))


def read_mcp_json(path: Path) -> list[tuple[str, dict[str, Any], str]]:
    """``(name, entry, "file:line")`` for each server of one file; none if it is absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise ConfigError('expected an object with "mcpServers"', path=path, line=1)
    servers = data.get("mcpServers", {})
    if not isinstance(servers, dict):
        line = _line_of(text, "mcpServers")
        raise ConfigError('"mcpServers" must be an object', path=path, line=line)
    found = []
    for name, entry in servers.items():
        line = _line_of(text, name)
        where = f"{path}:{line}" if line else str(path)
        if not isinstance(entry, dict):
            raise ConfigError(f"server {name!r} must be an object", path=path, line=line)
        check_name(name, where, path=path, line=line)
        _check_entry(name, entry, path, line)
        found.append((name, entry, where))
    return found


def check_name(name: str, where: str, *, path: Path | None = None, line: int | None = None) -> None:
    if not _NAME.match(name) or "__" in name:
        message = f"MCP server name {name!r}: use letters, digits, - and _ (no __), at most 64"
        if path is not None:
            raise ConfigError(message, path=path, line=line)
        raise ConfigError(f"{message} ({where})")


def _check_entry(name: str, entry: dict[str, Any], path: Path, line: int | None) -> None:
    def bad(message: str) -> ConfigError:
        return ConfigError(f"server {name!r}: {message}", path=path, line=line)

    if "type" not in entry and "command" not in entry and "url" not in entry:
        raise bad('needs "command" (a stdio server) or "url" (an http server)')
    kind = entry.get("type", "stdio" if "command" in entry else "http")
    if kind not in ("stdio", "http", "sse", "streamable-http"):
        raise bad(f'"type" must be "stdio", "http" or "sse", not {kind!r}')
    if kind == "stdio" and not isinstance(entry.get("command"), str):
        raise bad('needs "command" (a string)')
    if kind != "stdio" and not isinstance(entry.get("url"), str):
        raise bad('needs "url" (a string)')
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise bad('"args" must be a list of strings')
    for key in ("env", "headers"):
        value = entry.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise bad(f'"{key}" must be an object of strings')


def _spec(
    name: str,
    *,
    entry: dict[str, Any],
    source: Source,
    origin: str,
    config: McpConfig,
    env: Mapping[str, str],
) -> ServerSpec | None:
    own = McpServerConfig.model_validate(
        {k: v for k, v in entry.items() if k in McpServerConfig.model_fields and k != "type"}
    )
    if not own.enabled:
        return None
    if own.command is None and own.url is None:
        raise ConfigError(
            f"[mcp.servers.{name}] sets neither command nor url, and no .mcp.json "
            "defines a server of that name"
        )
    raw_type = entry.get("type") or ("stdio" if own.command else "http")
    transport = _TRANSPORTS.get(raw_type, "http")
    missing: list[str] = []
    spec = ServerSpec(
        name=name,
        transport=transport,
        source=source,
        origin=origin,
        command=expand(own.command or "", env, missing),
        args=tuple(expand(a, env, missing) for a in own.args),
        env={k: expand(v, env, missing) for k, v in own.env.items()},
        cwd=expand(own.cwd, env, missing) if own.cwd else None,
        url=expand(own.url or "", env, missing),
        headers={k: expand(v, env, missing) for k, v in own.headers.items()},
        trust_read_only_hints=own.trust_read_only_hints,
        startup=own.startup or config.startup,
        start_timeout_s=own.start_timeout_s or config.start_timeout_s,
        call_timeout_s=own.call_timeout_s or config.call_timeout_s,
    )
    if missing:
        names = ", ".join(f"${{{m}}}" for m in dict.fromkeys(missing))
        spec = replace(spec, problem=f"{names} not set in the environment ({origin})")
    return spec


def _line_of(text: str, key: str) -> int | None:
    """The line where ``"key":`` first appears (JSON keeps no positions)."""
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def unknown_keys(entry: Mapping[str, Any]) -> list[str]:
    """Keys of an entry that mean nothing here (said by ``mnemo mcp get``)."""
    return sorted(set(entry) - _KNOWN_KEYS - set(McpServerConfig.model_fields))
