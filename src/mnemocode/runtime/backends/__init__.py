"""Open the configured backend. Each ``backends/<name>.py`` exposes
``async def open_backend(config, *, home) -> Backend``; it is imported only when
chosen, so the Redis and NATS client packages stay optional."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from mnemocode.config.settings import RuntimeConfig
from mnemocode.core.errors import ConfigError
from mnemocode.runtime.protocols import Backend

BACKENDS = ("memory", "sqlite", "redis", "nats")

# backend → (client package it needs, pip extra, example url)
_SERVER_BACKENDS = {
    "redis": ("redis", "redis", "redis://localhost:6379/0"),
    "nats": ("nats", "nats", "nats://localhost:4222"),
}

Opener = Callable[..., Awaitable[Backend]]


async def open_backend(config: RuntimeConfig, *, home: Path) -> Backend:
    """The backend ``config.backend`` names, connected and ready."""
    name = config.backend
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")
    if name in _SERVER_BACKENDS:
        _check_server_backend(name, config)
    module = importlib.import_module(f"mnemocode.runtime.backends.{name}")
    opener = cast(Opener, module.open_backend)
    return await opener(config, home=home)


def _check_server_backend(name: str, config: RuntimeConfig) -> None:
    package, extra, example = _SERVER_BACKENDS[name]
    if not config.url:
        raise ConfigError(
            f"the {name} backend needs a server, e.g. url = {example!r}", key="[runtime] url"
        )
    if importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"the {name} backend needs the {package!r} package: pip install 'mnemocode[{extra}]'"
        )
