"""Layered loading of :class:`Settings`.

Load order, each layer overriding the one before::

    defaults → <mnemo_home>/config.toml → project mnemo.toml → project .mnemo/config.toml
             → MNEMO_* environment → command-line overrides

(the two project files only in a trusted folder, clamped: see the end of this text).

Layers are deep-merged: tables merge key by key (``[models.<alias>]`` per alias and
per key), scalars and arrays replace. After each layer is merged, the result so far
is validated, so the first layer that makes the settings invalid is the one an error
names — with the file and the line of the key, the environment variable, or "the
command line". ``active_model`` is checked once all layers are in (the entry it names
may come from a later layer); an error names the layer that last set it.

Environment (values are read as TOML scalars — ``5``, ``0.5``, ``true`` — else kept
as strings; settings typed as strings always keep the raw text; empty means unset):

- ``MNEMO_MODEL`` → ``active_model``; ``MNEMO_MODE`` → ``safety.mode``;
  ``MNEMO_ACTIVE_MODEL`` → ``active_model``.
- ``MNEMO_<SECTION>__<KEY>``: double underscore nests, names are lowercased, e.g.
  ``MNEMO_AGENT__MAX_ITERATIONS=5``, ``MNEMO_MODELS__FAST__CONTEXT_WINDOW=32000``.
  An unknown section or key is an error naming the variable.
- ``NON_CONFIG_ENV_VARS`` (``MNEMO_HOME``, ``MNEMO_LOG``, …) are never settings, and
  other single-word ``MNEMO_*`` names are ignored (other tools share the prefix).

Command-line overrides are a nested dict shaped like the TOML; ``None`` values mean
"flag not given" and are dropped.

Project files and trust (``config.trust``): the project layers are read only when the
``trust`` answer says the folder is trusted; otherwise they are listed in
``LoadedSettings.ignored`` and have no effect (they are not even parsed). A trusted
project still cannot loosen what the user's own layers (defaults and the global
config) set — each refused key is left out, with a notice naming file and line
(``LoadedSettings.notices``), never an error:

- ``[safety]``: ``mode`` only towards stricter (ask > auto > bypass);
  ``sandbox_ask``/``sandbox_auto`` only towards bubblewrap (never local);
  ``sandbox_network`` and ``allow_private_network`` only to false;
  ``extra_allowed_paths`` only a subset of the user's own list;
  ``sandbox_hidden_paths`` only a superset;
  ``checkpoint_max_age_days``/``checkpoint_max_mb`` only higher. Any other
  ``[safety]`` key is refused.
- ``[models.<alias>]`` of an alias the global config defines: ``provider``,
  ``base_url`` and ``api_key_env`` cannot change (its other keys can).
- a model only the project defines is kept only if its endpoint (``clamp.endpoint_of``:
  URL, provider and key variable) is in ``trust.endpoints``; otherwise the entry is
  dropped, and so is an ``active_model`` or ``memory.model`` naming it. Selecting it
  from the environment or the command line is an error naming the endpoint.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mnemocode.config._toml_lines import key_lines, line_of
from mnemocode.config.clamp import ProjectFile, clamp_project, flatten, show
from mnemocode.config.paths import find_project_root, global_config_path, project_config_paths
from mnemocode.config.settings import Settings
from mnemocode.config.trust import Trust
from mnemocode.core.errors import ConfigError

ENV_PREFIX = "MNEMO_"
#: ``MNEMO_*`` variables that are read elsewhere and are never settings.
NON_CONFIG_ENV_VARS: frozenset[str] = frozenset(
    {
        "MNEMO_HOME",
        "MNEMO_LOG",
        "MNEMO_LOG_LEVEL",
        "MNEMO_LOG_FILE",
        "MNEMO_DEBUG",
        "MNEMO_NO_COLOR",
        "MNEMO_CONFIG",
        "MNEMO_PROFILE",
        "MNEMO_LIVE_TESTS",
    }
)
#: Short names for the settings people change most from the shell.
ENV_ALIASES: Mapping[str, tuple[str, ...]] = {
    "MNEMO_MODEL": ("active_model",),
    "MNEMO_MODE": ("safety", "mode"),
}
_NEST = "__"
_ANY_LINE = 1 << 30


@dataclass(frozen=True)
class LoadedSettings:
    """The merged, validated settings and where they came from."""

    settings: Settings
    sources: list[Path]
    """Config files that were read, in load order."""
    global_path: Path
    """``<mnemo_home>/config.toml`` — whether or not it exists (``mnemo init`` writes it)."""
    project_root: Path | None = None
    ignored: list[Path] = field(default_factory=list)
    """Project config files that exist but had no effect: the folder is not trusted."""
    notices: list[str] = field(default_factory=list)
    """Keys of a trusted project's config that were refused (file:line: key … ignored)."""


@dataclass
class _Layer:
    data: dict[str, Any]
    kind: Literal["file", "env", "cli"]
    path: Path | None = None
    text: str = ""
    env_vars: dict[tuple[str, ...], str] = field(default_factory=dict)

    def line(self, loc: Sequence[str | int]) -> int | None:
        return line_of(key_lines(self.text), loc) if self.kind == "file" else None

    def error(self, loc: Sequence[str | int], message: str) -> ConfigError:
        key = ".".join(str(part) for part in loc) or None
        if self.kind == "file":
            return ConfigError(message, path=self.path, line=self.line(loc), key=key)
        if self.kind == "env":
            var = _closest_var(self.env_vars, loc)
            return ConfigError(f"{message} (from environment variable {var})", key=key)
        return ConfigError(f"{message} (from the command line)", key=key)


def load_settings(
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    trust: Trust | None = None,
) -> LoadedSettings:
    """Read, merge and validate every layer; raise :class:`ConfigError` on the first bad
    one. Project files count only if ``trust`` says so (default: not trusted)."""
    env = os.environ if env is None else env
    trust = trust or Trust()
    global_path = global_config_path(env)
    user = _read_file(global_path)
    layers: list[_Layer] = [user] if user is not None else []
    project_paths = project_config_paths(cwd, env=env)
    notices: list[str] = []
    pending: dict[str, str] = {}
    if trust.trusted:
        project = [layer for path in project_paths if (layer := _read_file(path)) is not None]
        clamped = _clamp(user, project, trust.endpoints)
        for layer, file in zip(project, clamped.files, strict=True):
            layer.data = file.data
        layers += project
        notices, pending = clamped.notices, clamped.pending
    sources = [layer.path for layer in layers if layer.path is not None]
    layers.append(_env_layer(env))
    if overrides:
        layers.append(_Layer(_drop_none(overrides), kind="cli"))

    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer.data)
        _validate(merged, layer, partial=True)
    _check_active_model(merged, layers, pending)
    settings = _validate(merged, layers[-1], partial=False)
    return LoadedSettings(
        settings=settings,
        sources=sources,
        global_path=global_path,
        project_root=find_project_root(cwd, env=env),
        ignored=[] if trust.trusted else project_paths,
        notices=notices,
    )


def _clamp(user: _Layer | None, project: list[_Layer], confirmed: Any) -> Any:
    own = _validate(user.data, user, partial=True) if user is not None else Settings()
    return clamp_project(
        own.safety,
        {alias: model.model_dump() for alias, model in own.models.items()},
        [ProjectFile(layer.path or Path(), layer.data, layer.line) for layer in project],
        confirmed,
    )


@dataclass(frozen=True)
class FolderWants:
    """What a folder's project config asks for, one line each, for the trust question."""

    lines: list[str]
    endpoints: tuple[str, ...]
    """Endpoints of the project-only models: trusting the folder confirms them."""


def folder_wants(cwd: Path, env: Mapping[str, str] | None = None) -> FolderWants:
    """Each key the project files set, marked when a trusted folder would still be
    refused it; a project-only model as "use model … at <endpoint>"."""
    env = os.environ if env is None else env
    user = _read_file(global_config_path(env))
    lines: list[str] = []
    project: list[_Layer] = []
    for path in project_config_paths(cwd, env=env):
        try:
            layer = _read_file(path)
        except ConfigError as exc:
            lines.append(f"{path.name}: cannot be read ({exc.one_line()})")
            continue
        if layer is not None:
            project.append(layer)
    clamped = _clamp(user, project, None)
    refused = {(item.path, item.key): item.reason for item in clamped.ignored}
    for layer in project:
        path = layer.path or Path()
        for key, value in flatten(layer.data):
            if key[:1] == ("models",) and key[1] in clamped.endpoints:
                lines.append(f"use model {key[1]!r} at {clamped.endpoints[key[1]]}")
                continue
            pairs = (
                [((*key, k), v) for k, v in value.items()]
                if key[:1] == ("models",) and isinstance(value, Mapping)
                else [(key, value)]
            )
            for full, item in pairs:
                line = f"set {'.'.join(full)} = {show(item)}"
                reason = refused.get((path, full))
                lines.append(f"{line} (ignored: {reason})" if reason else line)
    return FolderWants(lines, tuple(sorted(set(clamped.endpoints.values()))))


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: tables merge recursively, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


# -- files -----------------------------------------------------------------------

_DECODE_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _read_file(path: Path) -> _Layer | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not valid UTF-8", path=path, line=bad_line) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _decode_error(exc)
        raise ConfigError(f"invalid TOML: {message}", path=path, line=line) from exc
    return _Layer(data, kind="file", path=path, text=text)


def _decode_error(exc: tomllib.TOMLDecodeError) -> tuple[int | None, str]:
    """Line and message of a TOML error: ``.lineno``/``.colno``/``.msg`` on Python
    3.14+, else parsed from "... (at line N, column M)"."""
    text = str(exc)
    found = _DECODE_AT.search(text)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    if found is not None:
        if not isinstance(line, int) and found.group(1):
            line, column = int(found.group(1)), int(found.group(2))
        text = text[: found.start()]
    message = getattr(exc, "msg", None)
    message = _DECODE_AT.sub("", message) if isinstance(message, str) and message else text
    if isinstance(column, int):
        message = f"{message} (column {column})"
    return (line if isinstance(line, int) else None), message


# -- environment and command line -------------------------------------------------


def _env_layer(env: Mapping[str, str]) -> _Layer:
    data: dict[str, Any] = {}
    env_vars: dict[tuple[str, ...], str] = {}
    for var in sorted(env):
        raw = env[var]
        if not var.startswith(ENV_PREFIX) or var in NON_CONFIG_ENV_VARS or raw == "":
            continue
        name = var[len(ENV_PREFIX) :].lower()
        if var in ENV_ALIASES:
            path = ENV_ALIASES[var]
        elif _NEST in name:
            path = tuple(name.split(_NEST))
        elif name in Settings.model_fields and _is_scalar_field(name):
            path = (name,)
        else:
            continue
        if not all(path):
            raise ConfigError(
                f"environment variable {var}: empty name part; use MNEMO_<SECTION>__<KEY>"
            )
        _set_path(data, path, _env_value(raw, path), var)
        env_vars[path] = var
    return _Layer(data, kind="env", env_vars=env_vars)


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any, var: str) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            break
    else:
        if not isinstance(node.get(path[-1]), dict):
            node[path[-1]] = value
            return
    raise ConfigError(
        f"environment variable {var} conflicts with another MNEMO_ variable",
        key=".".join(path),
    )


def _env_value(raw: str, path: Sequence[str]) -> Any:
    if _wants_str(_annotation_at(path)):
        return raw
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    value = parsed.get("v")
    if len(parsed) == 1 and isinstance(value, bool | int | float | str):
        return value
    return raw


def _closest_var(env_vars: Mapping[tuple[str, ...], str], loc: Sequence[str | int]) -> str:
    def shared(path: tuple[str, ...]) -> int:
        n = 0
        for mine, theirs in zip(path, loc, strict=False):
            if mine != str(theirs):
                break
            n += 1
        return n

    if not env_vars:
        return "MNEMO_*"
    return max(env_vars.items(), key=lambda item: shared(item[0]))[1]


def _drop_none(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _drop_none(value) if isinstance(value, Mapping) else value
        for key, value in overrides.items()
        if value is not None
    }


# -- validation and error messages -------------------------------------------------


def _validate(data: dict[str, Any], layer: _Layer, *, partial: bool) -> Settings:
    try:
        return Settings.model_validate(data, context={"partial": partial})
    except ValidationError as exc:
        raise _translate(exc.errors(), layer) from exc


def _translate(errors: list[ErrorDetails], layer: _Layer) -> ConfigError:
    ordered = sorted(errors, key=lambda error: layer.line(error["loc"]) or _ANY_LINE)
    first = ordered[0]
    message = _describe(first)
    if len(ordered) > 1:
        more = len(ordered) - 1
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return layer.error(first["loc"], message)


def _describe(error: ErrorDetails) -> str:
    if error["type"] != "extra_forbidden":
        return error["msg"]
    *parent, key = error["loc"]
    model = _annotation_at(parent)
    known = list(model.model_fields) if _is_model(model) else []
    close = difflib.get_close_matches(str(key), known, n=1)
    return f"unknown key (did you mean {close[0]}?)" if close else "unknown key"


def _check_active_model(
    merged: Mapping[str, Any], layers: Sequence[_Layer], pending: Mapping[str, str]
) -> None:
    active = merged.get("active_model")
    models = merged.get("models") or {}
    if active is None or active in models:
        return
    setter = next(layer for layer in reversed(layers) if "active_model" in layer.data)
    if active in pending:
        raise setter.error(
            ("active_model",),
            f"model {active!r} is defined only by the project config, at {pending[active]}; "
            "run `mnemo trust` to confirm that endpoint",
        )
    known = ", ".join(sorted(models)) or "none defined"
    raise setter.error(("active_model",), f"{active!r} is not a [models.*] entry (known: {known})")


# -- walking the Settings schema ------------------------------------------------------


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _annotation_at(path: Sequence[str | int]) -> Any:
    """The declared type at a key path of :class:`Settings`, or None if unknown."""
    annotation: Any = Settings
    for part in path:
        if _is_model(annotation):
            info = annotation.model_fields.get(str(part))
            if info is None:
                return None
            annotation = info.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    return annotation


def _wants_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return all(isinstance(arg, str) for arg in get_args(annotation))
    if origin in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(args) and all(_wants_str(arg) for arg in args)
    return False


def _is_scalar_field(name: str) -> bool:
    annotation = _annotation_at((name,))
    return not _is_model(annotation) and get_origin(annotation) is not dict
