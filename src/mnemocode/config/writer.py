"""Edit a config file in place (``mnemo init``, ``/model``), keeping the user's
comments, order and other content (tomlkit), and writing atomically.

Only settings are written: a model entry holds the *name* of the variable with its
API key (``api_key_env``), never a key — ``ModelConfig`` has no field for one and
rejects a value that does not look like a variable name.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mnemocode.config.settings import ModelConfig
from mnemocode.core.errors import ConfigError

if TYPE_CHECKING:
    from tomlkit import TOMLDocument

_ALIAS = re.compile(r"[A-Za-z0-9_-]+")
_PRIVATE_DIR = 0o700


def write_model_config(
    path: Path,
    alias: str,
    model: ModelConfig | Mapping[str, Any],
    *,
    make_active: bool = True,
) -> None:
    """Write ``[models.<alias>]`` into ``path`` (created if missing) and, unless
    ``make_active`` is false, point ``active_model`` at it.

    Only the fields given (or set on a ``ModelConfig``) are written, so defaults stay
    defaults. An existing entry of that alias is replaced key by key; comments inside
    it on keys that survive are kept.
    """
    import tomlkit
    from tomlkit.exceptions import ConvertError

    _check_alias(alias)
    config = _validated(alias, model)
    values = config.model_dump(exclude_unset=True, exclude_none=True)
    doc = _read_document(path)
    try:
        _put_entry(doc, alias, values, path)
    except ConvertError as exc:
        raise ConfigError(
            f"cannot be written as TOML: {exc}", path=path, key=f"models.{alias}"
        ) from exc
    if make_active:
        doc["active_model"] = alias
    atomic_write_text(path, tomlkit.dumps(doc))


def _put_entry(doc: TOMLDocument, alias: str, values: dict[str, Any], path: Path) -> None:
    import tomlkit

    models = doc.get("models")
    if models is None:
        models = tomlkit.table(is_super_table=True)
        doc["models"] = models
    elif not isinstance(models, dict):
        raise ConfigError("is not a table", path=path, key="models")
    entry = models.get(alias)
    if isinstance(entry, dict):
        for key in [key for key in entry if key not in values]:
            del entry[key]
        for key, value in values.items():
            if entry.get(key) != value:
                entry[key] = value
    else:
        table = tomlkit.table()
        for key, value in values.items():
            table[key] = value
        models[alias] = table


def set_active_model(path: Path, alias: str) -> None:
    """Set ``active_model = "<alias>"`` in ``path`` (created if missing). The entry may
    be defined in another layer; loading checks that it exists somewhere."""
    import tomlkit

    _check_alias(alias)
    doc = _read_document(path)
    doc["active_model"] = alias
    atomic_write_text(path, tomlkit.dumps(doc))


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old file or the new one,
    never a part: write a temporary file next to it, fsync, ``os.replace``.

    A missing directory is created private (0700: ``~/.mnemo`` holds memory and
    logs). An existing file keeps its permissions; a new one is 0600 in a private
    directory, else 0644.
    """
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=_PRIVATE_DIR, parents=True)
    mode = _mode_for(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        pass
    directory_mode = stat.S_IMODE(path.parent.stat().st_mode)
    return 0o600 if directory_mode & 0o077 == 0 else 0o644


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible everywhere (e.g. Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _read_document(path: Path) -> TOMLDocument:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=path) from exc
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        # Never overwrite a file we could not understand.
        raise ConfigError(f"invalid TOML, not changed: {exc}", path=path, line=exc.line) from exc


def _check_alias(alias: str) -> None:
    if not _ALIAS.fullmatch(alias):
        raise ConfigError(
            f"model alias {alias!r}: use letters, digits, '-' and '_'", key="active_model"
        )


def _validated(alias: str, model: ModelConfig | Mapping[str, Any]) -> ModelConfig:
    if isinstance(model, ModelConfig):
        return model
    try:
        return ModelConfig.model_validate(dict(model))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(["models", alias, *(str(part) for part in error["loc"])])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            if "key" in str(error["loc"][-1]).lower():
                message += " (API keys are never stored: set api_key_env to the variable's name)"
        raise ConfigError(message, key=key) from exc
