"""Model providers: OpenAI-compatible and Anthropic adapters, retries, tokens, cost.

Importing this package is cheap: the ``openai`` / ``anthropic`` SDKs load on the
first request and tiktoken on the first count. Fakes for tests live in
``mnemocode.llm.testing``.
"""

from mnemocode.llm.anthropic import AnthropicModel
from mnemocode.llm.base import StreamAssembler, complete
from mnemocode.llm.cost import CallRecord, CostTracker, cost_usd, price_for
from mnemocode.llm.factory import build_model, resolve_api_key
from mnemocode.llm.openai_compat import OpenAICompatModel
from mnemocode.llm.retry import RetryingModel
from mnemocode.llm.tokens import count_tokens, estimate_request_tokens

__all__ = [
    "AnthropicModel",
    "CallRecord",
    "CostTracker",
    "OpenAICompatModel",
    "RetryingModel",
    "StreamAssembler",
    "build_model",
    "complete",
    "cost_usd",
    "count_tokens",
    "estimate_request_tokens",
    "price_for",
    "resolve_api_key",
]
