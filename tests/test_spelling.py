"""Names in the articles' spelling: the second view of a question."""

from __future__ import annotations

from pathlib import Path

from retrieval.answerer import Answerer
from retrieval.spelling import CorpusSpelling
from tests.conftest import FakeEmbedder, index_of

TEXTS = [
    "Der ukrainische Präsident Wolodymyr Selenskyj sprach mit Trump.",
    "Selenskyj und Kremlsprecher Dmitri Peskow, Peskow sagte in Moskau …",
]


def test_names_take_the_articles_spelling() -> None:
    spelling = CorpusSpelling.from_texts(TEXTS)
    assert spelling.respell("What did Zelensky's team and Peskov say?") == (
        "What did Selenskyj team and Peskow say?"
    )
    assert spelling.respell("Wolodymyr Zelenskyy") == "Wolodymyr Selenskyj"


def test_exonyms_known_names_and_unknown_words_stay() -> None:
    spelling = CorpusSpelling.from_texts(TEXTS)
    for question in ("Who went to Moscow?", "What did Trump say?", "What did Macron say?"):
        assert spelling.respell(question) == question


def test_the_answerer_embeds_both_spellings_in_one_call(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    text = "Gespräch\n\nSelenskyj erklärte, er sei zu einer Waffenruhe bereit.\n"
    answerer = Answerer(index_of(tmp_path, text, embedder), embedder)
    answerer.warm_up()
    before = embedder.queries_embedded
    answerer.answer("What did Zelensky offer?")
    assert embedder.queries_embedded - before == 2
    answerer.answer("What did Selenskyj offer?")
    assert embedder.queries_embedded - before == 3
