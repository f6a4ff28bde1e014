"""Fixtures for the runtime: ``backend`` runs a test on every backend, each test in
a fresh namespace; redis and nats use real servers started once per session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends import open_backend
from mnemocode.runtime.protocols import Backend
from tests.runtime.helpers import opened
from tests.runtime.nats_server import NatsServer, nats_server
from tests.runtime.redis_server import RedisServer, redis_server

__all__ = ["NatsServer", "RedisServer", "nats_server", "redis_server"]

ALL_BACKENDS = ["memory", "sqlite", "redis", "nats"]

# Small limits so the suite exercises retention and dead letters quickly.
TEST_MAX_ATTEMPTS = 3

OpenBackend = Callable[..., Awaitable[Backend]]


def runtime_config(
    name: str, request: pytest.FixtureRequest, tmp_path: Path, **overrides: Any
) -> RuntimeConfig:
    """A config for ``name`` in a fresh namespace (its server started if needed)."""
    url: str | None = None
    if name == "redis":
        url = request.getfixturevalue("redis_server").url
    elif name == "nats":
        url = request.getfixturevalue("nats_server").url
    settings: dict[str, Any] = {
        "backend": name,
        "url": url,
        "path": str(tmp_path / "runtime.db") if name == "sqlite" else None,
        "namespace": f"t{uuid.uuid4().hex[:16]}",
        "max_attempts": TEST_MAX_ATTEMPTS,
        **overrides,
    }
    return RuntimeConfig(**settings)


@pytest.fixture(params=ALL_BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_backend(
    backend_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[OpenBackend]:
    """Opens a backend with config overrides (fresh namespace each call unless
    ``namespace=`` is given); everything opened is closed after the test."""
    opened: list[Backend] = []

    async def make(**overrides: Any) -> Backend:
        config = runtime_config(backend_name, request, tmp_path, **overrides)
        backend = await open_backend(config, home=tmp_path)
        opened.append(backend)
        return backend

    yield make
    for backend in reversed(opened):
        await backend.close()


@pytest.fixture
async def runtime_settings(
    backend_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> RuntimeConfig:
    return runtime_config(backend_name, request, tmp_path)


@pytest.fixture
async def backend(runtime_settings: RuntimeConfig, tmp_path: Path) -> AsyncIterator[Backend]:
    async with opened(runtime_settings, tmp_path) as backend:
        yield backend


@pytest.fixture
async def open_another(
    runtime_settings: RuntimeConfig, tmp_path: Path
) -> AsyncIterator[Callable[[], Awaitable[Backend]]]:
    """Opens another Backend on the ``backend`` fixture's namespace (another
    process's view of the same bus, state and queues)."""
    opened: list[Backend] = []

    async def another() -> Backend:
        backend = await open_backend(runtime_settings, home=tmp_path)
        opened.append(backend)
        return backend

    yield another
    for backend in reversed(opened):
        await backend.close()
