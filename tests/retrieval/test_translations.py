from __future__ import annotations

import logging
from pathlib import Path

import pytest

from index.stores.sqlite import IndexStore
from index.sync import sync_index
from retrieval import translations as translations_module
from retrieval.candidates import HybridRetriever, Retrieval
from retrieval.translations import WordTranslations, read_dictionary
from tests.fakes.embedder import FakeEmbedder

# Lines in Ding's format: aligned forms separated by "|", synonyms by ";", markup in brackets.
DING_LINES = """\
# Version :: 1.9
Brücke {f} | Brücken {pl} :: bridge | bridges
etw. bauen {vt} | bauend | gebaut :: to build sth. | building | built
Stadt {f}; Großstadt {f} | Städte {pl} :: city | cities
Stadt {f} | Städte {pl} :: town | towns
Stadtrat {m} [pol.] :: city council
Gemeinde {f}; Kommune {f} (Verwaltung) :: municipality; community
er/sie baut :: he/she builds
"""


@pytest.fixture
def ding(tmp_path: Path) -> Path:
    path = tmp_path / "de-en"
    path.write_text(DING_LINES, encoding="utf-8")
    return path


def test_reads_aligned_forms_and_synonyms_without_markup(ding: Path):
    tables = read_dictionary(ding)
    assert tables["en"]["built"] == ("gebaut",)
    assert tables["en"]["build"] == ("bauen",)
    assert tables["en"]["bridges"] == ("brucken",)
    # "Stadt" translates "city" twice and "Großstadt" once: most frequent first
    assert tables["en"]["city"] == ("stadt", "großstadt")
    assert tables["de"]["stadt"] == ("city", "town")
    # a two-word phrase translates a one-word entry, but is not itself looked up
    assert tables["de"]["stadtrat"] == ("city", "council")
    assert "council" not in tables["en"]
    assert tables["en"]["municipality"] == ("gemeinde", "kommune")
    # "a/b" keeps the first alternative: "er/sie baut" is "er", a function word, and no entry
    assert "builds" not in tables["en"]


def test_translate_gives_the_most_frequent_translations(ding: Path):
    words = WordTranslations(ding, per_word=1)
    assert words.translate(["city", "built", "unknownword"], "en") == {
        "city": ("stadt",),
        "built": ("gebaut",),
    }
    assert WordTranslations(ding, per_word=2).translate(["city"], "en") == {
        "city": ("stadt", "großstadt")
    }
    assert words.translate(["stadt"], "de") == {"stadt": ("city",)}


def test_missing_dictionary_translates_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING):
        words = WordTranslations(tmp_path / "absent")
        assert not words.available
        assert words.translate(["city"], "en") == {}
    assert "no word dictionary" in caplog.text
    assert WordTranslations(None).translate(["city"], "en") == {}


def test_reduced_table_is_cached_between_processes(
    ding: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cache = tmp_path / "cache"
    first = WordTranslations(ding, cache_dir=cache).translate(["city"], "en")
    assert len(list(cache.glob("translations-*.json"))) == 1

    def unread(path: Path) -> None:
        raise AssertionError("the dictionary was read again")

    monkeypatch.setattr(translations_module, "read_dictionary", unread)
    assert WordTranslations(ding, cache_dir=cache).translate(["city"], "en") == first


def test_unreadable_cache_falls_back_to_the_dictionary(ding: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    WordTranslations(ding, cache_dir=cache).tables()
    [cached] = cache.glob("translations-*.json")
    cached.write_text("{half a fi", encoding="utf-8")
    assert WordTranslations(ding, cache_dir=cache).translate(["bridge"], "en") == {
        "bridge": ("brucke",)
    }


def test_changed_dictionary_is_not_served_from_an_old_cache(ding: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    WordTranslations(ding, cache_dir=cache).tables()
    ding.write_text(DING_LINES + "Fluss {m} :: river\n", encoding="utf-8")
    read_dictionary.cache_clear()
    assert WordTranslations(ding, cache_dir=cache).translate(["river"], "en") == {
        "river": ("fluss",)
    }


GERMAN_PARAGRAPH = "Die Brücke über den Rhein wurde im Jahr 1890 gebaut."
ENGLISH_PARAGRAPH = "The new ferry timetable starts in spring."


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "rhein.txt").write_text(f"Rheinufer\n\n{GERMAN_PARAGRAPH}\n", encoding="utf-8")
    (articles / "ferry.txt").write_text(f"Harbour news\n\n{ENGLISH_PARAGRAPH}\n", encoding="utf-8")
    sync_index(articles, tmp_path / "index", FakeEmbedder())
    return IndexStore.open(tmp_path / "index")


def retrieve(store: IndexStore, question: str, language: str, words: WordTranslations) -> Retrieval:
    vector = FakeEmbedder().embed_queries([question])[0]
    return HybridRetriever(translations=words).retrieve(store, vector, question, language)


def lexical(retrieval: Retrieval, text: str) -> float:
    return next(c.lexical for c in retrieval.candidates if c.chunk.text == text)


def test_english_words_count_in_a_german_paragraph_through_their_translations(
    store: IndexStore, ding: Path
):
    question = "When was the bridge built?"
    plain = retrieve(store, question, "en", WordTranslations(None))
    translated = retrieve(store, question, "en", WordTranslations(ding))
    assert lexical(plain, GERMAN_PARAGRAPH) == 0.0
    assert lexical(translated, GERMAN_PARAGRAPH) == pytest.approx(1.0)
    assert translated.translations["bridge"] == frozenset({"bruck"})


def test_translations_count_only_in_the_other_language(store: IndexStore, ding: Path):
    retrieval = retrieve(store, "When was the bridge built?", "en", WordTranslations(ding))
    assert retrieval.keys(GERMAN_PARAGRAPH)["bridge"] == frozenset({"bridg", "bruck"})
    assert retrieval.keys(ENGLISH_PARAGRAPH)["bridge"] == frozenset({"bridg"})


def test_a_term_the_archive_lacks_weighs_as_its_most_common_translation(
    store: IndexStore, ding: Path
):
    """ "bridge" is in no paragraph (maximal idf); its translation "brücke" is in one of two."""
    plain = retrieve(store, "When was the bridge built?", "en", WordTranslations(None))
    translated = retrieve(store, "When was the bridge built?", "en", WordTranslations(ding))
    assert translated.weights["bridge"] < plain.weights["bridge"]
    # "gebaut" is in the same one paragraph as "brücke": the same weight
    assert translated.weights["built"] == pytest.approx(translated.weights["bridge"])


def test_the_full_text_query_searches_the_translations_of_words_the_archive_lacks(
    store: IndexStore, ding: Path
):
    """Without the vector side, only the full-text index proposes paragraphs: "bridge" and
    "built" are in no paragraph, their translations are in the German one."""
    vector = FakeEmbedder().embed_queries(["When was the bridge built?"])[0]

    def found(expand: bool) -> list[str]:
        retriever = HybridRetriever(
            dense_k=0, translations=WordTranslations(ding), expand_query=expand
        )
        retrieval = retriever.retrieve(store, vector, "When was the bridge built?", "en")
        return [c.chunk.text for c in retrieval.candidates]

    assert found(expand=False) == []
    assert found(expand=True) == [GERMAN_PARAGRAPH]
