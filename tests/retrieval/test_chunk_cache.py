from __future__ import annotations

from retrieval.chunk_cache import ChunkCache


def test_the_least_recently_used_go_first() -> None:
    cache: ChunkCache[str] = ChunkCache(2)
    cache.keep({1: "a", 2: "b"})
    assert cache.found([1, 3]) == {1: "a"}  # 1 is now more recent than 2
    cache.keep({3: "c"})
    assert cache.found([1, 2, 3]) == {1: "a", 3: "c"}
