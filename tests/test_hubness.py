"""Centrality: how close a paragraph is to its neighbourhood (ledes are close to everything)."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedders import normalize_rows
from retrieval import hubness
from retrieval.hubness import centrality


def brute_force(vectors: np.ndarray, k: int) -> np.ndarray:
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    values = np.sort(similarity, axis=1)[:, -k:].mean(axis=1)
    return values - values.mean()


def test_a_summary_of_everything_is_the_most_central() -> None:
    rng = np.random.default_rng(7)
    topics = normalize_rows(rng.normal(size=(6, 32)))
    lede = normalize_rows(topics.sum(axis=0))  # mentions every topic a little
    vectors = np.vstack([topics, lede])
    values = centrality(vectors, k=3)
    assert int(np.argmax(values)) == len(vectors) - 1
    assert values.sum() == pytest.approx(0.0, abs=1e-5)


def test_blocks_give_the_same_values_as_one_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = normalize_rows(np.random.default_rng(1).normal(size=(37, 16)))
    monkeypatch.setattr(hubness, "_BLOCK", 8)
    np.testing.assert_allclose(centrality(vectors, k=5), brute_force(vectors, 5), atol=1e-5)


def test_tiny_indexes_have_no_hubs() -> None:
    assert centrality(np.zeros((0, 4), dtype=np.float32)).shape == (0,)
    assert centrality(normalize_rows(np.ones((1, 4)))).tolist() == [0.0]
    two = normalize_rows(np.array([[1.0, 0.0], [0.6, 0.8]]))
    assert centrality(two, k=10).tolist() == [0.0, 0.0]  # k shrinks to the one neighbour
