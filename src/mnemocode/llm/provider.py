"""What every provider adapter shares: the model's settings and the SDK client.

An adapter subclasses ``ProviderModel`` and supplies ``_make_client`` (which SDK,
how it authenticates) plus the API shape (``stream``). The client belongs to the
event loop that created it — httpx connections cannot cross loops — so a new loop
(another ``asyncio.run``) gets a new client."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Self

from mnemocode.config.settings import ModelConfig


class ProviderModel:
    def __init__(
        self,
        model_id: str,
        *,
        name: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 600.0,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_id = model_id
        self._name = name or model_id
        self.base_url = base_url
        self._api_key = api_key
        self.timeout = timeout
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature
        self.extra_body = dict(extra_body or {})
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_config(cls, alias: str, config: ModelConfig, api_key: str | None) -> Self:
        return cls(
            config.model,
            name=alias,
            base_url=config.base_url,
            api_key=api_key,
            timeout=config.timeout_s,
            max_output_tokens=config.max_output_tokens,
            temperature=config.temperature,
            extra_body=config.extra_body,
        )

    @property
    def name(self) -> str:
        return self._name

    def _make_client(self) -> Any:
        raise NotImplementedError

    def _get_client(self) -> Any:
        """The SDK client of the running event loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._make_client()
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = self._loop = None
