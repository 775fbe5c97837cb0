"""Incremental sync: what gets embedded, replaced, removed and skipped.

Every test runs against both stores: `index_dir` is a folder (embedded) or a postgresql://
URL (a real server, see conftest)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.stores import open_store
from index.stores.base import IndexMismatchError
from index.stores.sqlite import IndexStore, list_generations
from index.sync import sync_index
from tests.fakes.embedder import FakeEmbedder

SAMPLE = "001_d3691be0234ce99a.txt"


@pytest.fixture
def index_dir(index_location):
    return index_location


def is_embedded(location) -> bool:
    return isinstance(location, Path)


def test_first_sync_indexes_every_article(articles_dir: Path, index_dir, fake_embedder):
    report = sync_index(articles_dir, index_dir, fake_embedder)

    assert len(report.added) == 5 and not report.updated and not report.removed
    store = open_store(index_dir, fake_embedder.model_id)
    assert [a.path for a in store.articles()] == sorted(p.name for p in articles_dir.iterdir())
    assert len(store) == report.chunks_embedded == sum(a.chunk_count for a in store.articles())


def test_rerun_with_nothing_changed_embeds_and_writes_nothing(
    articles_dir: Path, index_dir, fake_embedder
):
    first = sync_index(articles_dir, index_dir, fake_embedder)
    embedded = fake_embedder.passages_embedded

    again = sync_index(articles_dir, index_dir, fake_embedder)

    assert fake_embedder.passages_embedded == embedded
    assert again.unchanged == 5 and not again.changed
    assert again.generation == first.generation
    if is_embedded(index_dir):
        assert len(list_generations(index_dir)) == 1


def test_changed_article_is_the_only_one_reembedded(articles_dir: Path, index_dir, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    path = articles_dir / SAMPLE
    path.write_text(path.read_text() + "\n\nEin neuer Absatz über Pinguine in der Antarktis.\n")
    embedded = fake_embedder.passages_embedded

    report = sync_index(articles_dir, index_dir, fake_embedder)

    assert report.updated == [SAMPLE] and report.unchanged == 4 and not report.added
    store = open_store(index_dir, fake_embedder.model_id)
    chunks = store.chunks(store.article_chunk_ids(SAMPLE))
    # only the new paragraph and its sentence: the others keep their vectors
    assert fake_embedder.passages_embedded - embedded == 2
    assert "Pinguine" in chunks[-1].text
    # the old version's vectors are gone, not duplicated
    assert len(store) == sum(a.chunk_count for a in store.articles())


def test_deleted_article_loses_its_vectors(articles_dir: Path, index_dir, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    before = open_store(index_dir, fake_embedder.model_id)
    removed_ids = before.article_chunk_ids(SAMPLE)
    (articles_dir / SAMPLE).unlink()

    report = sync_index(articles_dir, index_dir, fake_embedder)

    after = open_store(index_dir, fake_embedder.model_id)
    assert report.removed == [SAMPLE]
    assert SAMPLE not in {a.path for a in after.articles()}
    assert len(after) == len(before) - len(removed_ids)
    hits = {chunk_id for chunk_id, _ in after.search(before.chunk_vectors(removed_ids[:1])[0], 99)}
    assert hits.isdisjoint(removed_ids)


def test_bad_files_are_skipped_with_a_reason_and_the_rest_indexed(
    articles_dir: Path, index_dir, fake_embedder
):
    (articles_dir / "empty.txt").write_text("   \n\n")
    (articles_dir / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary")
    (articles_dir / "latin1.txt").write_bytes("Gespräch über Frieden".encode("latin-1"))
    (articles_dir / "huge.md").write_bytes(b"a" * 3_000_000)
    (articles_dir / "notes.pdf").write_bytes(b"%PDF")  # not an article type: ignored silently

    report = sync_index(articles_dir, index_dir, fake_embedder)

    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "latin1.txt", "huge.md"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "too large" in reasons["huge.md"]
    assert len(report.added) == 5


def test_markdown_and_nested_folders_are_read(articles_dir: Path, index_dir, fake_embedder):
    nested = articles_dir / "2025" / "march"
    nested.mkdir(parents=True)
    (nested / "extra.md").write_text("# Pinguine\n\nPinguine leben in der Antarktis.\n")

    report = sync_index(articles_dir, index_dir, fake_embedder)

    assert "2025/march/extra.md" in report.added


def test_unreadable_update_keeps_the_indexed_version(articles_dir: Path, index_dir, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    (articles_dir / SAMPLE).write_bytes(b"")  # e.g. a copy that has only just started

    report = sync_index(articles_dir, index_dir, fake_embedder)

    assert [s.path for s in report.skipped] == [SAMPLE] and not report.removed
    store = open_store(index_dir, fake_embedder.model_id)
    assert store.article_chunk_ids(SAMPLE)


def test_index_built_with_another_model_is_refused(articles_dir: Path, index_dir, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    other = FakeEmbedder(dimension=32, model_id="other")

    with pytest.raises(IndexMismatchError, match=r"newsbot index --rebuild"):
        open_store(index_dir, other.model_id)
    with pytest.raises(IndexMismatchError, match="fake-hash-64"):
        sync_index(articles_dir, index_dir, other)

    report = sync_index(articles_dir, index_dir, other, rebuild=True)
    assert len(report.added) == 5
    assert open_store(index_dir, other.model_id).manifest.dimension == 32


def test_rebuild_reembeds_everything(articles_dir: Path, index_dir, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    report = sync_index(articles_dir, index_dir, fake_embedder, rebuild=True)
    assert len(report.added) == 5 and report.unchanged == 0


def test_empty_articles_folder_gives_an_empty_usable_index(
    tmp_path: Path, index_dir, fake_embedder
):
    (tmp_path / "articles").mkdir()
    sync_index(tmp_path / "articles", index_dir, fake_embedder)
    store = open_store(index_dir, fake_embedder.model_id)
    assert len(store) == 0
    assert store.search(fake_embedder.embed_queries(["x"])[0], 5) == []


def test_articles_indexed_by_older_cleaning_rules_are_reindexed(
    articles_dir: Path, index_dir, fake_embedder, monkeypatch: pytest.MonkeyPatch
):
    from index import sync as sync_module

    monkeypatch.setattr(sync_module, "PIPELINE_VERSION", "0-old")
    sync_index(articles_dir, index_dir, fake_embedder)
    monkeypatch.undo()

    report = sync_index(articles_dir, index_dir, fake_embedder)

    assert len(report.updated) == 5 and report.unchanged == 0 and not report.added
    manifest = open_store(index_dir).manifest
    assert manifest.pipeline == sync_module.pipeline_of(sentence_vectors=True, latent_terms=False)
    assert manifest.pipeline.startswith(sync_module.PIPELINE_VERSION)
    assert sync_index(articles_dir, index_dir, fake_embedder).unchanged == 5


def test_a_paragraphs_only_index_gains_what_answers_read_reusing_its_paragraph_vectors(
    articles_dir: Path, index_dir
):
    embedder = FakeEmbedder(latent_terms=True)
    sync_index(articles_dir, index_dir, embedder, sentence_vectors=False, latent_terms=False)
    store = open_store(index_dir)
    ids = [i for a in store.articles() for i in store.article_chunk_ids(a.path)]
    chunks = store.chunks(ids)
    embedder.passages_embedded, embedder.latent_texts = 0, []

    report = sync_index(articles_dir, index_dir, embedder)  # the default stores both

    assert len(report.updated) == 5 and not report.added
    texts = {c.text for c in chunks}
    sentences = {s.text for c in chunks for s in c.sentences}
    assert 0 < embedder.passages_embedded <= len(sentences)  # no paragraph embedded again
    assert set(embedder.latent_texts) == texts
    store = open_store(index_dir)
    assert store.sentence_vectors(ids).keys() == store.latent_terms(ids).keys() == set(ids)
    assert sync_index(articles_dir, index_dir, embedder).unchanged == 5


class Interrupted(BaseException):
    """Ctrl-C or a kill in the middle of embedding."""


class InterruptedEmbedder(FakeEmbedder):
    def __init__(self, calls_before_interrupt: int) -> None:
        super().__init__()
        self.calls_left = calls_before_interrupt

    def embed_passages(self, texts):
        if self.calls_left == 0:
            raise Interrupted
        self.calls_left -= 1
        return super().embed_passages(texts)


def test_articles_are_embedded_in_batches_across_articles(
    articles_dir: Path, index_dir, fake_embedder
):
    calls = []
    real = fake_embedder.embed_passages
    fake_embedder.embed_passages = lambda texts: calls.append(len(texts)) or real(texts)

    report = sync_index(articles_dir, index_dir, fake_embedder, batch_articles=2)

    assert len(report.added) == 5 and len(calls) == 3  # 2 + 2 + 1 articles, one call each
    store = open_store(index_dir, fake_embedder.model_id)
    assert report.generation == store.generation == 3  # each batch was published
    for path in report.added:  # the vectors went to the right chunks
        [chunk] = store.chunks(store.article_chunk_ids(path)[:1])
        expected = fake_embedder._vector(chunk.text if not chunk.section else "")
        if not chunk.section:
            assert store.search(expected, 1)[0][0] == chunk.id


def test_an_interrupted_first_index_is_answerable_and_resumes_where_it_stopped(
    articles_dir: Path, index_dir
):
    with pytest.raises(Interrupted):
        sync_index(
            articles_dir,
            index_dir,
            InterruptedEmbedder(2),
            batch_articles=2,
            sentence_vectors=False,  # paragraphs only, to count them
        )

    store = open_store(index_dir)
    done = [a.path for a in store.articles()]
    assert len(done) == 4  # two batches of two were published before the interruption
    embedder = FakeEmbedder()
    report = sync_index(articles_dir, index_dir, embedder, batch_articles=2, sentence_vectors=False)
    assert report.unchanged == 4 and len(report.added) == 1
    [added] = report.added
    assert added not in done
    chunks = open_store(index_dir).chunks(open_store(index_dir).article_chunk_ids(added))
    assert embedder.passages_embedded == len(chunks)


def test_a_rebuild_publishes_once_at_the_end(articles_dir: Path, index_dir, fake_embedder):
    first = sync_index(articles_dir, index_dir, fake_embedder)
    old_database = open_store(index_dir).manifest.database
    with pytest.raises(Interrupted):
        sync_index(articles_dir, index_dir, InterruptedEmbedder(2), rebuild=True, batch_articles=2)
    assert open_store(index_dir).generation == first.generation  # the old index is live

    report = sync_index(articles_dir, index_dir, fake_embedder, rebuild=True, batch_articles=2)
    store = open_store(index_dir)
    assert store.generation == report.generation and len(store.articles()) == 5
    assert store.manifest.database != old_database  # a fresh database file (table set)
    (articles_dir / "neu.txt").write_text("Neu\n\nEin Artikel über Kiel.\n")
    sync_index(articles_dir, index_dir, fake_embedder)
    # once no kept generation uses the old database, it is deleted
    if is_embedded(index_dir):
        assert [p.name for p in index_dir.glob("index-*.sqlite")] == [store.manifest.database]
    else:
        assert pg_tables(index_dir) == {f"{store.manifest.database}_{t}" for t in TABLES}


def test_an_unchanged_file_is_not_read_again(articles_dir: Path, index_dir, fake_embedder):
    import os
    import time

    sync_index(articles_dir, index_dir, fake_embedder)
    path = articles_dir / SAMPLE
    past = time.time_ns() - 3_600 * 10**9
    os.utime(path, ns=(past, past))
    sync_index(articles_dir, index_dir, fake_embedder)  # records the old mtime
    path.chmod(0)  # unreadable: only its size and mtime can be looked at
    try:
        report = sync_index(articles_dir, index_dir, fake_embedder)
    finally:
        path.chmod(0o644)
    assert report.unchanged == 5 and not report.skipped

    text = path.read_text()  # same size, new content, same mtime: what rsync --times keeps
    path.write_text(text.replace("Putin", "Pétin", 1)[: len(text)])
    os.utime(path, ns=(past + 10**9, past + 10**9))
    assert sync_index(articles_dir, index_dir, fake_embedder).updated == [SAMPLE]


def test_sentence_vectors_and_latent_terms_are_stored_unless_paragraphs_only_are_asked_for(
    articles_dir: Path, tmp_path: Path
):
    embedder = FakeEmbedder(latent_terms=True)
    report = sync_index(
        articles_dir, tmp_path / "chunks", embedder, sentence_vectors=False, latent_terms=False
    )

    assert embedder.passages_embedded == report.chunks_embedded and not embedder.latent_texts
    store = open_store(tmp_path / "chunks", embedder.model_id)
    ids = store.article_chunk_ids(SAMPLE)
    assert store.sentence_vectors(ids) == {} and store.latent_terms(ids) == {}
    assert all(chunk.sentences for chunk in store.chunks(ids))  # the text is all there

    sync_index(articles_dir, tmp_path / "both", embedder)
    both = open_store(tmp_path / "both", embedder.model_id)
    assert {i: len(v) for i, v in both.sentence_vectors(ids).items()} == {
        c.id: len(c.sentences) for c in store.chunks(ids)
    }
    terms = both.latent_terms(ids)
    assert terms.keys() == set(ids)
    for chunk in store.chunks(ids):  # the terms of the paragraph's own text
        np.testing.assert_array_equal(
            terms[chunk.id].ids, embedder.latent_terms([chunk.text])[0].ids
        )


def test_an_updated_article_computes_latent_terms_only_for_its_new_paragraphs(
    articles_dir: Path, tmp_path: Path
):
    embedder = FakeEmbedder(latent_terms=True)
    sync_index(articles_dir, tmp_path / "index", embedder)
    path = articles_dir / SAMPLE
    path.write_text(path.read_text() + "\n\nEin neuer Absatz über Pinguine in der Antarktis.\n")
    embedder.latent_texts.clear()

    sync_index(articles_dir, tmp_path / "index", embedder)

    assert embedder.latent_texts == ["Ein neuer Absatz über Pinguine in der Antarktis."]
    store = open_store(tmp_path / "index", embedder.model_id)
    ids = store.article_chunk_ids(SAMPLE)
    assert store.latent_terms(ids).keys() == set(ids)  # the old ones kept, the new one added


def test_identical_passages_are_embedded_once(tmp_path: Path) -> None:
    from index.sync import embed_distinct
    from tests.fakes.embedder import FakeEmbedder

    embedder = FakeEmbedder()
    texts = ["Ein Satz.", "Noch ein Satz.", "Ein Satz."]
    vectors = embed_distinct(embedder, texts)
    assert embedder.passages_embedded == 2
    assert vectors.shape == (3, embedder.dimension)
    assert (vectors[0] == vectors[2]).all()
    assert (vectors == embedder.embed_passages(texts)).all()


TABLES = ("articles", "chunks")


def pg_tables(location: str) -> set[str]:
    from index.stores.postgres import connect

    with connect(location) as connection:
        return {
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename LIKE 'newsbot\\_t%'"
            )
        }


# --- a sync of the paths that changed ------------------------------------------------------


def _index_contents(index_dir: Path, model_id: str) -> dict[str, tuple[str, list[int]]]:
    store = IndexStore.open(index_dir, model_id)
    return {a.path: (a.content_hash, store.article_chunk_ids(a.path)) for a in store.articles()}


def test_a_sync_of_the_changed_paths_gives_the_index_a_full_walk_gives(
    articles_dir: Path, tmp_path: Path, fake_embedder
):
    by_paths, by_walk = tmp_path / "by-paths", tmp_path / "by-walk"
    (articles_dir / "old" / "deep").mkdir(parents=True)
    (articles_dir / "old" / "deep" / "x.txt").write_text("Alt\n\nDer Leuchtturm in Kiel.\n")
    (articles_dir / "old" / "y.md").write_text("Alt\n\nDie Werft in Flensburg.\n")
    for index in (by_paths, by_walk):
        sync_index(articles_dir, index, fake_embedder)
    # every kind of change: new, edited, deleted, a folder removed and one moved in, a bad
    # file, a broken link, an unchanged file touched, a hidden file, a name outside
    (articles_dir / "neu.txt").write_text("Neu\n\nIn Kiel legte ein Frachter voller Pinguine an.\n")
    (articles_dir / SAMPLE).write_text((articles_dir / SAMPLE).read_text() + "\n\nNachtrag.\n")
    removed = sorted(articles_dir.glob("00[2-3]*.txt"))
    for path in removed:
        path.unlink()
    shutil.rmtree(articles_dir / "old")
    moved_in = tmp_path / "incoming"
    (moved_in / "sub").mkdir(parents=True)
    (moved_in / "sub" / "z.txt").write_text("Zu\n\nEin Segelboot in Rostock.\n")
    moved_in.rename(articles_dir / "incoming")
    (articles_dir / "bad.txt").write_bytes(b"caf\xe9")
    (articles_dir / "link.txt").symlink_to(tmp_path / "nothing.txt")
    touched = sorted(articles_dir.glob("00[4-5]*.txt"))[0]
    os.utime(touched, ns=(1, 1))
    (articles_dir / ".swap.txt").write_text("Versteckt\n\nNicht indexiert.\n")
    changed = [
        "neu.txt",
        articles_dir / SAMPLE,  # absolute paths work too
        *[p.name for p in removed],
        "old",
        "incoming",
        "bad.txt",
        "link.txt",
        touched.name,
        ".swap.txt",
        tmp_path / "elsewhere.txt",
    ]

    report = sync_index(articles_dir, by_paths, fake_embedder, paths=changed)
    walked = sync_index(articles_dir, by_walk, fake_embedder)

    model = fake_embedder.model_id
    assert _index_contents(by_paths, model) == _index_contents(by_walk, model)
    assert (report.added, report.updated, report.removed) == (
        walked.added,
        walked.updated,
        walked.removed,
    )
    assert report.skipped == walked.skipped and len(report.skipped) == 2
    assert report.unchanged == 1  # the touched file; the others were not looked at
    # the touched file's new mtime was recorded: the next walk does not read it again
    again = sync_index(articles_dir, by_paths, fake_embedder)
    assert not again.changed


def test_a_sync_of_some_paths_leaves_the_other_articles_alone(
    articles_dir: Path, index_dir: Path, fake_embedder
):
    sync_index(articles_dir, index_dir, fake_embedder)
    (articles_dir / SAMPLE).unlink()  # not named: still indexed
    (articles_dir / "neu.txt").write_text("Neu\n\nIn Kiel legte ein Frachter an.\n")
    embedded = fake_embedder.passages_embedded

    report = sync_index(articles_dir, index_dir, fake_embedder, paths=["neu.txt"])

    assert report.added == ["neu.txt"] and not report.removed and report.unchanged == 0
    assert fake_embedder.passages_embedded - embedded == 1  # its one-sentence paragraph
    paths = {a.path for a in open_store(index_dir, fake_embedder.model_id).articles()}
    assert SAMPLE in paths and "neu.txt" in paths


def test_a_sync_of_paths_walks_everything_when_it_cannot_be_sure(
    articles_dir: Path, tmp_path: Path, index_dir: Path, fake_embedder
):
    sync_index(articles_dir, index_dir, fake_embedder)
    (articles_dir / SAMPLE).unlink()
    real = tmp_path / "real"
    real.mkdir()
    (real / "r.txt").write_text("Real\n\nDer Hafen von Kiel.\n")
    (articles_dir / "linked").symlink_to(real)

    # a path through a linked folder: a full walk (which also sees the deleted article)
    report = sync_index(articles_dir, index_dir, fake_embedder, paths=["linked/r.txt"])
    assert report.added == ["linked/r.txt"] and report.removed == [SAMPLE]
    assert report.unchanged == 4
    # the folder itself
    (articles_dir / "neu.txt").write_text("Neu\n\nIn Kiel legte ein Frachter an.\n")
    report = sync_index(articles_dir, index_dir, fake_embedder, paths=[articles_dir])
    assert report.added == ["neu.txt"] and report.unchanged == 5
    # no index yet: a first index of everything
    report = sync_index(articles_dir, tmp_path / "fresh", fake_embedder, paths=["neu.txt"])
    assert len(report.added) == 6
