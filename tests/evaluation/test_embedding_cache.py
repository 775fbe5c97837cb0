from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.embedding_cache import CachedEmbedder
from tests.fakes.embedder import FakeEmbedder


def test_vectors_are_embedded_once_and_read_back(tmp_path: Path) -> None:
    inner = FakeEmbedder()
    first = CachedEmbedder(inner, tmp_path / "cache.sqlite").embed_passages(["a b", "c d", "a b"])
    again = CachedEmbedder(inner, tmp_path / "cache.sqlite")
    assert np.array_equal(again.embed_passages(["c d", "a b"]), first[[1, 0]])
    assert inner.passages_embedded == 2 and again.computed == 0
    again.embed_queries(["a b"])  # a query is not a passage
    assert again.computed == 1


def test_latent_terms_are_cached_too(tmp_path: Path) -> None:
    inner = FakeEmbedder(latent_terms=True)
    cache = CachedEmbedder(inner, tmp_path / "cache.sqlite")
    assert cache.supports_latent_terms
    first = cache.latent_terms(["ferry council", "budget vote", "ferry council"])
    assert len(inner.latent_texts) == 2
    again = CachedEmbedder(inner, tmp_path / "cache.sqlite").latent_terms(["budget vote"])
    assert len(inner.latent_texts) == 2
    assert np.array_equal(again[0].ids, first[1].ids)
    assert np.array_equal(again[0].weights, first[1].weights)
    assert first[0].similarity(first[2]) == pytest.approx(1.0)
    assert not CachedEmbedder(FakeEmbedder(), tmp_path / "plain.sqlite").supports_latent_terms
