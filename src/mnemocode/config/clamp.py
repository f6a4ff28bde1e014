"""What a trusted project's config may change: safety only towards stricter, never
where a user's model sends its key, and a project-only model only once its endpoint
is confirmed. The rules are listed in ``config.loader``'s docstring and the README.

Pure functions over the parsed TOML of the project files; nothing is read or written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnemocode.config.settings import SafetyConfig

#: Strictness of each mode: a project may move only to an equal or higher rank.
MODE_RANK = {"bypass": 0, "auto": 1, "ask": 2}
SANDBOX_RANK = {"local": 0, "bubblewrap": 1}
#: Keys of a ``[models.<alias>]`` entry that decide where its key goes.
ENDPOINT_KEYS = ("provider", "base_url", "api_key_env")
_DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

Rule = Callable[[Any, Any], bool]  # (project value, user value) -> allowed


def _rank(table: Mapping[str, int]) -> Rule:
    # A value outside the table is left for validation to report with its line.
    return lambda mine, theirs: mine not in table or table[mine] >= table.get(theirs, 0)


def _only_false(mine: Any, theirs: Any) -> bool:
    return mine is False or mine == theirs


def _subset(mine: Any, theirs: Any) -> bool:
    return isinstance(mine, list) and all(item in theirs for item in mine)


def _superset(mine: Any, theirs: Any) -> bool:
    return isinstance(mine, list) and all(item in mine for item in theirs)


def _not_lower(mine: Any, theirs: Any) -> bool:
    return not isinstance(mine, int | float) or mine >= theirs


#: The ``[safety]`` keys a project may set, each with its direction. Any other
#: ``[safety]`` key in a project file (a future one included) is ignored.
SAFETY_RULES: Mapping[str, tuple[Rule, str]] = {
    "mode": (_rank(MODE_RANK), "a project can only make safety stricter (ask > auto > bypass)"),
    "sandbox_ask": (_rank(SANDBOX_RANK), "a project cannot weaken the sandbox"),
    "sandbox_auto": (_rank(SANDBOX_RANK), "a project cannot weaken the sandbox"),
    "sandbox_network": (_only_false, "a project can only turn it off"),
    "allow_private_network": (_only_false, "a project can only turn it off"),
    "extra_allowed_paths": (_subset, "a project cannot add writable folders"),
    "sandbox_hidden_paths": (_superset, "a project can only hide more paths"),
    "checkpoint_max_age_days": (_not_lower, "a project cannot keep less undo history"),
    "checkpoint_max_mb": (_not_lower, "a project cannot keep less undo history"),
}
#: Keys that name a model alias; a dropped project-only model is dropped here too.
ALIAS_KEYS: tuple[tuple[str, ...], ...] = (("active_model",), ("memory", "model"))


@dataclass(frozen=True)
class ProjectFile:
    """One project config file as parsed; ``line`` finds a key's line in it."""

    path: Path
    data: dict[str, Any]
    line: Callable[[Sequence[str]], int | None]


@dataclass(frozen=True)
class Ignored:
    path: Path
    line: int | None
    key: tuple[str, ...]
    value: Any
    reason: str

    def notice(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {'.'.join(self.key)} = {show(self.value)} ignored: {self.reason}"


@dataclass
class Clamped:
    files: list[ProjectFile]
    """The files' data with every refused key taken out."""
    ignored: list[Ignored] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    """Project-only models whose endpoint is not confirmed: alias → endpoint."""
    endpoints: dict[str, str] = field(default_factory=dict)
    """Every project-only model: alias → endpoint."""

    @property
    def notices(self) -> list[str]:
        return [item.notice() for item in self.ignored]


def show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def endpoint_of(entry: Mapping[str, Any]) -> str:
    """Where a model entry sends requests and which key goes with them — the text
    the user confirms and the trust store keeps."""
    provider = str(entry.get("provider", "openai"))
    url = entry.get("base_url") or f"the {provider} default endpoint"
    key = entry.get("api_key_env") or _DEFAULT_KEY_ENV.get(provider, "no key")
    return f"{url} ({provider}, key from ${key})"


def clamp_project(
    user_safety: SafetyConfig,
    user_models: Mapping[str, Mapping[str, Any]],
    files: Sequence[ProjectFile],
    confirmed: Collection[str] | None,
) -> Clamped:
    """``files`` with what a project may not change taken out. ``user_safety`` and
    ``user_models`` are the user's own layers (defaults and the global config);
    ``confirmed=None`` takes every project-only endpoint as confirmed."""
    out = Clamped(files=[ProjectFile(f.path, _copy(f.data), f.line) for f in files])
    for file in out.files:
        _clamp_safety(file, user_safety, out)
        _clamp_user_models(file, user_models, out)
        _clamp_mcp_hints(file, out)
    _drop_unconfirmed(out, user_models, confirmed)
    return out


def _refuse(out: Clamped, file: ProjectFile, key: tuple[str, ...], reason: str) -> None:
    *parent, last = key
    table: Any = file.data
    for part in parent:
        table = table[part]
    out.ignored.append(Ignored(file.path, file.line(key), key, table.pop(last), reason))


def _clamp_safety(file: ProjectFile, user: SafetyConfig, out: Clamped) -> None:
    safety = file.data.get("safety")
    if not isinstance(safety, dict):
        return
    for key in list(safety):
        rule = SAFETY_RULES.get(key)
        if key not in type(user).model_fields:
            continue  # an unknown key: validation reports it with its line
        if rule is None:
            _refuse(out, file, ("safety", key), "a project cannot set this safety key")
        elif not rule[0](safety[key], getattr(user, key)):
            _refuse(out, file, ("safety", key), rule[1])


def _clamp_mcp_hints(file: ProjectFile, out: Clamped) -> None:
    """A server's read-only hints let its calls run without a question: only the user
    may trust them (a project would vouch for its own server's claims)."""
    mcp = file.data.get("mcp")
    servers = mcp.get("servers") if isinstance(mcp, dict) else None
    if not isinstance(servers, dict):
        return
    for name, server in servers.items():
        if isinstance(server, dict) and server.get("trust_read_only_hints") is True:
            key = ("mcp", "servers", name, "trust_read_only_hints")
            _refuse(out, file, key, "only your own config may trust a server's read-only hints")


def _clamp_user_models(
    file: ProjectFile, user_models: Mapping[str, Mapping[str, Any]], out: Clamped
) -> None:
    models = file.data.get("models")
    if not isinstance(models, dict):
        return
    for alias, entry in models.items():
        if alias not in user_models or not isinstance(entry, dict):
            continue
        for key in ENDPOINT_KEYS:
            if key in entry and entry[key] != user_models[alias].get(key):
                reason = "a project cannot change where your own model sends its key"
                _refuse(out, file, ("models", alias, key), reason)


def _drop_unconfirmed(
    out: Clamped, user_models: Mapping[str, Mapping[str, Any]], confirmed: Collection[str] | None
) -> None:
    merged: dict[str, dict[str, Any]] = {}
    for file in out.files:
        for alias, entry in (file.data.get("models") or {}).items():
            if alias not in user_models and isinstance(entry, dict):
                merged.setdefault(alias, {}).update(entry)
    out.endpoints = {alias: endpoint_of(entry) for alias, entry in merged.items()}
    if confirmed is not None:
        out.pending = {a: e for a, e in out.endpoints.items() if e not in confirmed}
    for alias, endpoint in out.pending.items():
        reason = (
            f"model {alias!r} at {endpoint} is defined only by the project; "
            "confirm its endpoint with `mnemo trust` to use it"
        )
        for file in out.files:
            models = file.data.get("models")
            if isinstance(models, dict) and alias in models:
                _refuse(out, file, ("models", alias), reason)
        for file in out.files:
            for key in ALIAS_KEYS:
                if _get(file.data, key) == alias:
                    _refuse(out, file, key, f"model {alias!r} is not confirmed")


def _get(data: Mapping[str, Any], key: tuple[str, ...]) -> Any:
    node: Any = data
    for part in key:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def flatten(
    data: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf key of a TOML table, as a path; a ``[models.<alias>]`` entry is one."""
    items: list[tuple[tuple[str, ...], Any]] = []
    for key, value in data.items():
        path = (*prefix, key)
        if (
            isinstance(value, Mapping)
            and value
            and not (len(prefix) == 1 and prefix[0] == "models")
        ):
            items.extend(flatten(value, path))
        else:
            items.append((path, value))
    return items
