"""VectorSet.search_keys: the best rows among given keys, exact, in flat and coded blocks."""

from __future__ import annotations

import numpy as np
import pytest

from index.vectors import Block, VectorSet


@pytest.mark.parametrize("approximate_above", [None, 100])  # flat, and an IVF fast-scan block
def test_search_keys_is_exact_among_the_keys(approximate_above):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = np.arange(1, 2001, dtype=np.int64)
    ids = keys * 10
    first = Block.build(keys[:1500], ids[:1500], vectors[:1500], approximate_above)
    second = Block.build(keys[1500:], ids[1500:], vectors[1500:])
    hidden = {7, 1600}  # rows this snapshot no longer sees are never passed as keys
    vector_set = VectorSet.of(32, [first, second], set(hidden))
    chosen = np.array([k for k in range(3, 2000, 97) if k not in hidden], dtype=np.int64)
    query = vectors[500]
    found = vector_set.search_keys(query, 5, chosen)
    scores = vectors[chosen - 1] @ query
    best = chosen[np.argsort(-scores)[:5]]
    assert [i for i, _ in found] == list(best * 10)
    assert np.allclose([s for _, s in found], np.sort(scores)[::-1][:5], atol=1e-5)
    assert vector_set.search_keys(query, 5, np.array([], dtype=np.int64)) == []
