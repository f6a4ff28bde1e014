"""Token counting for budgets: exact-ish with tiktoken, an estimate without.

With the ``tokens`` extra (``tiktoken`` + ``bpe-openai``) text is counted with
``o200k_base`` (GPT-4o / GPT-5). tiktoken normally downloads its vocabulary; we
load it from the copy ``bpe-openai`` ships instead (``o200k_base.tiktoken.gz``,
checked against tiktoken's published SHA-256), so nothing touches the network.
Other models tokenise differently; for budgeting, o200k is close enough.

Without them, or if loading fails, :func:`count_tokens` estimates ``ceil(chars / 4)``
— about right for English and code, low for CJK text. ``encoding_name()`` says
which is in use.

Counts of long texts are memoised (keyed by the string, so the agent's history,
which keeps the same string objects, is tokenised once), which keeps
:func:`estimate_request_tokens` cheap before every model call.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import importlib.util
import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from mnemocode.core.types import ImagePart, Message, ModelRequest, Usage

IMAGE_TOKENS = 85
MESSAGE_OVERHEAD = 4
REQUEST_OVERHEAD = 3
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
# tiktoken_ext.openai_public.o200k_base builds the pattern and special tokens inside
# the function that also downloads the vocabulary, so they are copied from it here.
O200K_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_MEMO_MIN_CHARS = 256


def estimate_tokens(text: str) -> int:
    """The fallback: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


def _vocabulary_path() -> Path | None:
    """bpe-openai's o200k file, found without importing the package (slow)."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "o200k_base.tiktoken.gz"


@lru_cache(maxsize=1)
def _encoding() -> Any:
    """The o200k_base ``tiktoken.Encoding``, or None when unavailable (~0.4 s once)."""
    try:
        import tiktoken

        path = _vocabulary_path()
        if path is None:
            return None
        data = gzip.decompress(path.read_bytes())
    except (ImportError, OSError, EOFError, gzip.BadGzipFile):
        return None
    if hashlib.sha256(data).hexdigest() != O200K_SHA256:
        return None
    # "base64-token rank" per line, as tiktoken.load.load_tiktoken_bpe reads it.
    fields = data.split()
    ranks = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))
    return tiktoken.Encoding(
        name="o200k_base",
        pat_str=O200K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=O200K_SPECIAL_TOKENS,
    )


def warm_up() -> None:
    """Load the tokenizer in a background thread so the first count is instant."""
    threading.Thread(target=_encoding, name="mnemo-tokenizer", daemon=True).start()


def encoding_name() -> str:
    """``"o200k_base"``, or ``"chars/4"`` when the estimate is in use."""
    return "o200k_base" if _encoding() is not None else "chars/4"


@lru_cache(maxsize=8192)
def _count_memo(text: str) -> int:
    return _count(text)


def _count(text: str) -> int:
    encoding = _encoding()
    if encoding is None:
        return estimate_tokens(text)
    return len(encoding.encode_ordinary(text))


def count_tokens(text: str) -> int:
    """Tokens in ``text`` (o200k_base, or the chars/4 estimate)."""
    if not text:
        return 0
    if len(text) >= _MEMO_MIN_CHARS:
        return _count_memo(text)
    return _count(text)


def estimate_request_tokens(request: ModelRequest) -> int:
    """Tokens a request will take: system, messages (text, tool calls, reasoning),
    ``IMAGE_TOKENS`` per image, tool schemas as JSON, and a per-message overhead."""
    total = REQUEST_OVERHEAD
    total += sum(count_tokens(block.text) for block in request.system)
    if request.tools:
        schemas = [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ]
        total += count_tokens(json.dumps(schemas, separators=(",", ":")))
    for message in request.messages:
        total += MESSAGE_OVERHEAD
        for part in message.content:
            total += IMAGE_TOKENS if isinstance(part, ImagePart) else count_tokens(part.text)
        for call in message.tool_calls:
            total += count_tokens(call.name) + count_tokens(
                call.raw_arguments or json.dumps(call.arguments)
            )
        if message.reasoning:
            total += count_tokens(message.reasoning)
    return total


def estimate_usage(request: ModelRequest, reply: Message) -> Usage:
    """Usage for a server that reports none: the request estimate in, the reply out."""
    output = count_tokens(reply.text) + count_tokens(reply.reasoning or "")
    for call in reply.tool_calls:
        output += count_tokens(call.name) + count_tokens(call.raw_arguments)
    return Usage(input_tokens=estimate_request_tokens(request), output_tokens=output)
