"""The context window a server says it serves, asked for where servers say it:

- llama.cpp: ``GET /props`` → ``default_generation_settings.n_ctx`` (or ``n_ctx``);
- Ollama: ``POST /api/show {"model": id}`` → ``num_ctx`` in ``parameters`` when the
  Modelfile sets it, else ``model_info["<arch>.context_length"]``;
- OpenAI-compatible ``GET /v1/models``: the entry's ``max_model_len`` (vLLM),
  ``context_length`` (OpenRouter, LM Studio) or ``context_window``.

The three questions go out together with a short timeout and the first answer in
that order wins, so a server that says nothing (llama-cpp-python's, OpenAI's own)
costs one round trip at most. Official OpenAI and Anthropic endpoints are not asked
(their model lists carry no window). ``WindowProbe`` runs the same in a thread, so
start-up can do other work meanwhile.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from mnemocode.config.settings import ModelConfig
from mnemocode.core.errors import ModelAuthError
from mnemocode.llm.factory import resolve_api_key

DEFAULT_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class ServerWindow:
    tokens: int
    source: str  # e.g. "llama.cpp /props n_ctx"


def server_root(base_url: str) -> str:
    """``http://host:8080/v1`` → ``http://host:8080`` (llama.cpp and Ollama routes)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def worth_asking(provider: str, base_url: str | None) -> bool:
    """Only self-hosted and aggregator endpoints say their window."""
    return provider == "openai" and base_url is not None and "api.openai.com" not in base_url


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value > 0:
        return int(value)
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def from_props(body: Any) -> int | None:
    if not isinstance(body, Mapping):
        return None
    settings = body.get("default_generation_settings")
    if isinstance(settings, Mapping) and _positive(settings.get("n_ctx")):
        return _positive(settings.get("n_ctx"))
    return _positive(body.get("n_ctx"))


_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


def from_ollama_show(body: Any) -> tuple[int, str] | None:
    if not isinstance(body, Mapping):
        return None
    found = _NUM_CTX.search(str(body.get("parameters") or ""))
    if found and int(found.group(1)) > 0:
        return int(found.group(1)), "Ollama /api/show num_ctx"
    info = body.get("model_info")
    if isinstance(info, Mapping):
        arch = info.get("general.architecture")
        keys = [f"{arch}.context_length"] if arch else []
        keys += [k for k in info if str(k).endswith(".context_length")]
        for key in keys:
            tokens = _positive(info.get(key))
            if tokens:
                return tokens, f"Ollama /api/show {key}"
    return None


_MODEL_FIELDS = ("max_model_len", "context_length", "context_window", "max_context_length")


def from_models(body: Any, model_id: str) -> tuple[int, str] | None:
    entries = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(entries, list):
        return None
    mine = [e for e in entries if isinstance(e, Mapping) and e.get("id") == model_id]
    if not mine and len(entries) == 1 and isinstance(entries[0], Mapping):
        mine = [entries[0]]  # a one-model server that ignores the name
    for entry in mine:
        for key in _MODEL_FIELDS:
            tokens = _positive(entry.get(key))
            if tokens:
                return tokens, f"/v1/models {key}"
    return None


def probe_window(
    base_url: str,
    model_id: str,
    *,
    api_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ServerWindow | None:
    """What the server at ``base_url`` says its window is, or None (within ``timeout``)."""
    import httpx

    root = server_root(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client = httpx.Client(timeout=timeout, headers=headers, follow_redirects=False)

    def props() -> tuple[int, str] | None:
        tokens = from_props(client.get(f"{root}/props").json())
        return (tokens, "llama.cpp /props n_ctx") if tokens else None

    def ollama() -> tuple[int, str] | None:
        return from_ollama_show(client.post(f"{root}/api/show", json={"model": model_id}).json())

    def models() -> tuple[int, str] | None:
        return from_models(client.get(f"{base_url.rstrip('/')}/models").json(), model_id)

    asks: list[Callable[[], tuple[int, str] | None]] = [props, ollama, models]
    pool = ThreadPoolExecutor(max_workers=len(asks), thread_name_prefix="mnemo-window")
    try:
        futures = [pool.submit(ask) for ask in asks]
        wait(futures, timeout=timeout + 0.2)
        for future in futures:
            if not future.done() or future.exception() is not None:
                continue
            found = future.result()
            if found is not None:
                return ServerWindow(*found)
        return None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        client.close()


class WindowProbe:
    """``probe_window`` in a background thread; ``result()`` waits for it, bounded."""

    def __init__(
        self,
        base_url: str,
        model_id: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.timeout = timeout
        self._found: ServerWindow | None = None

        def run() -> None:
            try:
                self._found = probe_window(base_url, model_id, api_key=api_key, timeout=timeout)
            except Exception:  # a probe never stops the start
                self._found = None

        self._thread = threading.Thread(target=run, name="mnemo-window-probe", daemon=True)
        self._thread.start()

    def result(self) -> ServerWindow | None:
        self._thread.join(self.timeout + 0.5)
        return self._found


def start_window_probe(
    alias: str, config: ModelConfig, env: Mapping[str, str]
) -> WindowProbe | None:
    """Ask in the background when the config leaves ``context_window`` unset and
    the endpoint may say it (the caller takes ``result()`` when it needs it)."""
    if "context_window" in config.model_fields_set or config.base_url is None:
        return None
    if not worth_asking(config.provider, config.base_url):
        return None
    try:
        key = resolve_api_key(alias, config, env)
    except ModelAuthError:
        return None
    return WindowProbe(config.base_url, config.model, api_key=key)
