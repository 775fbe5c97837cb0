"""Date windows in both stores: filtered before the top k, undated articles outside every
window, and the archive's coverage (tests taking `index_location` run on both stores)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.dates import Coverage, DateRange
from index.stores import open_store
from index.sync import sync_index

ARTICLES = {
    "early.md": ("1987-03-02T09:00", "Der Hafen von Kiel meldete einen Rekord bei Fähren."),
    "middle.md": ("1987-03-10", "Der Hafen von Rostock baut ein Terminal für Fähren."),
    "late.md": ("1987-03-20T16:45", "Der Hafen von Emden verlädt mehr Autos als je zuvor."),
    "undated.md": (None, "Der Hafen von Lübeck plant eine neue Kaimauer für Fähren."),
}


def write_articles(folder: Path) -> None:
    for name, (date, text) in ARTICLES.items():
        front = f"---\ntitle: {name[:-3]}\ndate: {date}\n---\n\n" if date else ""
        (folder / name).write_text(f"{front}{text}\n")


def articles_of(store, hits) -> set[str]:
    return {c.article for c in store.chunks([i for i, _ in hits])}


def test_window_filters_dense_and_lexical_search(tmp_path, index_location, fake_embedder):
    folder = tmp_path / "dated"
    folder.mkdir()
    write_articles(folder)
    sync_index(folder, index_location, fake_embedder)
    store = open_store(index_location, fake_embedder.model_id)
    query = fake_embedder.embed_queries(["Hafen Kiel Rekord Fähren"])[0]

    # unfiltered, the Kiel article is the best match; in a window without it, k=1 still finds
    # the best paragraph inside the window: the filter is applied before the top k
    assert articles_of(store, store.search(query, 1)) == {"early.md"}
    window = DateRange("1987-03-05", "1987-03-15")
    assert articles_of(store, store.search(query, 1, window)) == {"middle.md"}
    assert articles_of(store, store.search(query, 10, window)) == {"middle.md"}
    assert articles_of(store, store.lexical_search(["hafen"], 10, window)) == {"middle.md"}
    assert articles_of(store, store.lexical_search(["hafen"], 10)) == set(ARTICLES)

    # a window of the whole month holds every dated article and never the undated one
    march = DateRange("1987-03", "1987-04-01")
    assert articles_of(store, store.search(query, 10, march)) == set(ARTICLES) - {"undated.md"}
    assert "undated.md" not in articles_of(store, store.lexical_search(["hafen"], 10, march))
    # open-ended windows, date-times at the edges
    assert articles_of(store, store.search(query, 10, DateRange("1987-03-20", None))) == {"late.md"}
    assert articles_of(store, store.search(query, 10, DateRange(None, "1987-03-03"))) == {
        "early.md"
    }
    # an empty window finds nothing
    empty = DateRange("1988-01-01", "1988-02-01")
    assert store.search(query, 5, empty) == []
    assert store.lexical_search(["hafen"], 5, empty) == []


def test_coverage(tmp_path, index_location, fake_embedder):
    folder = tmp_path / "dated"
    folder.mkdir()
    write_articles(folder)
    sync_index(folder, index_location, fake_embedder)
    store = open_store(index_location, fake_embedder.model_id)
    assert store.coverage() == Coverage("1987-03-02T09:00", "1987-03-20T16:45", 3, 1)


def test_window_sees_only_the_live_generation(tmp_path, index_location, fake_embedder):
    folder = tmp_path / "dated"
    folder.mkdir()
    write_articles(folder)
    sync_index(folder, index_location, fake_embedder)
    # the middle article moves out of the window: the new generation must not see its old row
    (folder / "middle.md").write_text(
        "---\ntitle: middle\ndate: 1987-03-25\n---\n\nDer Hafen von Rostock baut ein Terminal.\n"
    )
    sync_index(folder, index_location, fake_embedder)
    store = open_store(index_location, fake_embedder.model_id)
    window = DateRange("1987-03-05", "1987-03-15")
    query = np.asarray(fake_embedder.embed_queries(["Hafen Rostock Terminal"])[0])
    assert store.search(query, 5, window) == []
    assert store.lexical_search(["rostock"], 5, window) == []
    later = DateRange("1987-03-21", None)
    assert "middle.md" in articles_of(store, store.search(query, 5, later))


def test_a_changed_date_alone_embeds_nothing(tmp_path, index_location, fake_embedder):
    folder = tmp_path / "dated"
    folder.mkdir()
    write_articles(folder)
    sync_index(folder, index_location, fake_embedder, sentence_vectors=True)
    before = open_store(index_location, fake_embedder.model_id)
    ids = before.article_chunk_ids("middle.md")
    vectors = before.chunk_vectors(ids)
    embedded = fake_embedder.passages_embedded
    (folder / "middle.md").write_text(
        (folder / "middle.md").read_text().replace("1987-03-10", "1987-03-11")
    )
    report = sync_index(folder, index_location, fake_embedder, sentence_vectors=True)
    assert report.updated == ["middle.md"]
    assert fake_embedder.passages_embedded == embedded  # nothing embedded again
    after = open_store(index_location, fake_embedder.model_id)
    assert {r.path: r.date for r in after.articles()}["middle.md"] == "1987-03-11"
    assert after.article_chunk_ids("middle.md") == ids
    assert np.array_equal(after.chunk_vectors(ids), vectors)
    assert after.chunks(ids)[0].date == "1987-03-11"
    # a changed paragraph is embedded again, the others are not
    (folder / "middle.md").write_text(
        "---\ntitle: middle\ndate: 1987-03-11\n---\n\nDer Hafen von Rostock baut ein "
        "Terminal für Fähren.\n\nEin neuer Absatz über Kräne.\n"
    )
    sync_index(folder, index_location, fake_embedder, sentence_vectors=True)
    # the new one-sentence paragraph: one text (its sentence is the same text)
    assert fake_embedder.passages_embedded - embedded == 1
