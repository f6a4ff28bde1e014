"""``build_model``: a ``[models.<alias>]`` entry → a ready ``ChatModel`` (with retries).

Building is cheap: no SDK is imported and no connection is made until the
first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mnemocode.config.settings import ModelConfig
from mnemocode.core.errors import ModelAuthError
from mnemocode.llm.anthropic import AnthropicModel
from mnemocode.llm.openai_compat import PLACEHOLDER_KEY, OpenAICompatModel
from mnemocode.llm.retry import RetryCallback, RetryingModel

ANTHROPIC_DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
OPENAI_DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def resolve_api_key(alias: str, config: ModelConfig, env: Mapping[str, str]) -> str:
    """The API key for ``config``.

    - ``api_key_env`` set: that variable must be set and non-empty.
    - anthropic without ``api_key_env``: ``ANTHROPIC_API_KEY`` (required).
    - openai without ``api_key_env``: a placeholder, since local servers (Ollama,
      llama.cpp, vLLM) need none — except that with no ``base_url`` (OpenAI itself)
      ``OPENAI_API_KEY`` is used when it is set.
    """
    name = config.api_key_env
    if name is None and config.provider == "anthropic":
        name = ANTHROPIC_DEFAULT_KEY_ENV
    if name is None:
        if config.base_url is None and env.get(OPENAI_DEFAULT_KEY_ENV):
            return env[OPENAI_DEFAULT_KEY_ENV]
        return PLACEHOLDER_KEY
    value = env.get(name, "").strip()
    if not value:
        raise ModelAuthError(
            f"environment variable {name} is not set",
            model=alias,
            hint=f"export {name}=... or change api_key_env (mnemo doctor)",
        )
    return value


def build_model(
    alias: str,
    config: ModelConfig,
    *,
    env: Mapping[str, str] | None = None,
    on_retry: RetryCallback | None = None,
) -> RetryingModel:
    """The provider model for ``config`` wrapped in ``RetryingModel``.

    ``name`` of the result is ``alias``; ``model_id`` is ``config.model``. Raises
    ``ModelAuthError`` when the configured key variable is missing. Call ``aclose()``
    when done to release connections (optional: idle connections are dropped with
    the event loop).
    """
    api_key = resolve_api_key(alias, config, os.environ if env is None else env)
    inner: AnthropicModel | OpenAICompatModel
    if config.provider == "anthropic":
        inner = AnthropicModel.from_config(alias, config, api_key)
    else:
        inner = OpenAICompatModel.from_config(alias, config, api_key)
    return RetryingModel(inner, config.max_retries, on_retry=on_retry)
