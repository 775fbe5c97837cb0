"""Stage 3, quote selection: anchors, window size, evidence-only extra quotes, verbatim."""

from __future__ import annotations

import math

import numpy as np
import pytest

from index.stores.sqlite import IndexStore
from index.verbatim import canonical
from retrieval.candidates import HybridRetriever
from retrieval.fusion import LexicalFusion
from retrieval.quotes import QuoteSelector, refers_back
from retrieval.sentence_vectors import SentenceVectors
from tests.conftest import index_of
from tests.fakes.embedder import FakeEmbedder

ARTICLE = (
    "Der Zoo\n\n"
    "Der Zoo öffnet um neun Uhr. Im Winter schließt er um vier Uhr. Die Zebras stammen aus "
    "Kenia. Das Gehege der Pinguine wurde 2021 erneuert. Es kostete drei Millionen Euro.\n\n"
    "Die Stadt plant eine neue Straßenbahn zum Zoo. Sie soll 2027 fahren.\n"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    return index_of(tmp_path_factory.mktemp("quotes"), ARTICLE)


def select(store: IndexStore, question: str, selector: QuoteSelector, top: int = 5, read=None):
    embedder = FakeEmbedder()
    vector = embedder.embed_queries([question])[0]
    retrieval = HybridRetriever().retrieve(store, vector, question)
    ranked = LexicalFusion().fuse(retrieval.candidates)
    sentences = SentenceVectors(embedder)
    return selector.select(
        ranked,
        vector,
        retrieval.weights,
        lambda chunks: sentences.lookup(store, chunks),
        store.article_text,
        top=top,
        read=read,
    )


def test_the_sentence_with_the_questions_words_anchors_the_first_quote(store) -> None:
    [first, *_] = select(store, "Woher stammen die Zebras?", QuoteSelector(max_chars=60))
    assert first.text == "Die Zebras stammen aus Kenia."
    assert first.article == "a.txt" and first.paragraph == 1 and first.title == "Der Zoo"


def test_quotes_are_verbatim_spans_of_the_article(store) -> None:
    raw = store.article_text("a.txt")
    quotes = select(store, "Was kostete das Gehege der Pinguine?", QuoteSelector(spread=1.0))
    assert quotes
    for quote in quotes:
        assert canonical(raw[quote.start : quote.end]) == canonical(quote.text)


def test_a_quote_grows_around_its_anchor_up_to_max_chars(store) -> None:
    question = "Was kostete das Gehege der Pinguine?"
    [short, *_] = select(store, question, QuoteSelector(max_chars=40, coverage=1.0))
    [long, *_] = select(store, question, QuoteSelector(max_chars=400, coverage=1.0))
    assert short.text == "Das Gehege der Pinguine wurde 2021 erneuert."  # one sentence
    assert short.text in long.text and len(long.text) <= 400 and len(long.text) > len(short.text)


def test_a_quote_stays_short_when_its_anchor_clearly_answers(store) -> None:
    """Scores turned into chances: a clear anchor holds the coverage alone, while scores that
    cannot tell the sentences apart make the quote take its neighbours in."""
    question = "Was kostete das Gehege der Pinguine?"
    sure = QuoteSelector(max_chars=400, sharpness=1e4, coverage=0.9)
    unsure = QuoteSelector(max_chars=400, sharpness=0.0, coverage=0.9)
    [clear, *_] = select(store, question, sure)
    [blurred, *_] = select(store, question, unsure)
    assert clear.text == "Das Gehege der Pinguine wurde 2021 erneuert."
    assert clear.text in blurred.text and len(blurred.text) > len(clear.text)


def test_the_lead_quote_may_grow_further_than_the_supporting_ones(store) -> None:
    """Scores that cannot tell sentences apart: the lead quote takes its neighbours in up to
    `max_chars`, every further quote only up to `support_max_chars`."""
    selector = QuoteSelector(
        max_chars=400,
        coverage=1.0,
        support_max_chars=60,
        support_coverage=1.0,
        sharpness=0.0,
        spread=10.0,
    )
    lead, *support = select(store, "Was kostete das Gehege der Pinguine?", selector)
    assert len(lead.text) > 60 and "Das Gehege der Pinguine wurde 2021 erneuert." in lead.text
    assert support and all(len(quote.text) <= 60 for quote in support)
    [alone] = select(store, "Was kostete das Gehege der Pinguine?", selector, top=1)
    assert alone == lead


def test_further_quotes_only_while_they_score_close_to_the_first(store) -> None:
    question = "Wann fährt die Straßenbahn zum Zoo?"
    assert len(select(store, question, QuoteSelector(spread=0.0, max_chars=60))) == 1
    many = select(store, question, QuoteSelector(spread=10.0, max_chars=60, max_quotes=3))
    assert len(many) == 3
    assert len(select(store, question, QuoteSelector(spread=10.0), top=2)) == 2
    scores = [q.score for q in many]
    assert scores == sorted(scores, reverse=True)


def test_quotes_never_repeat_text(store) -> None:
    quotes = select(store, "Zoo", QuoteSelector(spread=10.0, max_quotes=10, max_chars=60), 10)
    spans = [(q.article, q.start, q.end) for q in quotes]
    for i, (_, start, end) in enumerate(spans):
        for _, other_start, other_end in spans[i + 1 :]:
            assert end <= other_start or other_end <= start


def test_a_missing_article_is_skipped(store) -> None:
    class Vanished(IndexStore):
        def article_text(self, path: str) -> str | None:
            return None

    gone = Vanished(store.generation_dir, store.manifest, store._vectors)
    assert select(gone, "Woher stammen die Zebras?", QuoteSelector()) == []


def test_without_sentence_vectors_words_alone_choose_the_sentence(store) -> None:
    selector = QuoteSelector(sentence_vectors=False, max_chars=60)
    [first, *_] = select(store, "Woher stammen die Zebras?", selector)
    assert first.text == "Die Zebras stammen aus Kenia."


def test_sentence_scores_mix_vectors_and_words() -> None:
    selector = QuoteSelector(lexical_weight=0.5)
    from index.documents import Sentence

    sentences = [Sentence("Zebras in Kenia.", 0, 16), Sentence("Pinguine.", 17, 26)]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    scores = selector.sentence_scores(
        sentences, vectors, np.array([0.0, 1.0], dtype=np.float32), {"zebras": 1.0, "kenia": 1.0}
    )
    # both words occur in one of two sentences: weight 1 * log(1 + 2/1) each, over total 2
    assert scores.tolist() == pytest.approx([0.5 * math.log(3), 1.0])


def test_the_anchor_sentence_is_the_focus_of_a_longer_quote(store) -> None:
    [quote, *_] = select(
        store, "Woher stammen die Zebras?", QuoteSelector(max_chars=400, coverage=1.0)
    )
    assert quote.focus is not None
    start, end = quote.focus
    assert quote.text[start:end] == "Die Zebras stammen aus Kenia."
    [short, *_] = select(store, "Woher stammen die Zebras?", QuoteSelector(max_chars=40))
    assert short.focus is None  # a one-sentence quote is all focus


def test_a_sentence_two_paragraphs_repeat_is_quoted_once(tmp_path) -> None:
    repeated = "Der Zoo öffnet im Sommer um acht Uhr."
    article = (
        "Der Zoo\n\n"
        f"{repeated} Die Zebras stammen aus Kenia. Das Gehege der Pinguine wurde erneuert.\n\n"
        "Die Stadt plant eine neue Straßenbahn. Sie soll 2027 fahren.\n\n"
        f"Der Eintritt kostet zwölf Euro. {repeated}\n"
    )
    store = index_of(tmp_path, article)
    selector = QuoteSelector(spread=1.0, max_chars=40, support_max_chars=40)
    quotes = select(store, "Wann öffnet der Zoo im Sommer?", selector)
    assert sum(repeated in q.text for q in quotes) == 1
    texts = [q.text for q in quotes]
    assert len(texts) >= 2  # the other paragraphs' sentences still fill the slots


def test_a_quote_that_opens_with_a_reference_back_starts_where_it_is_said(store) -> None:
    question = "Wie viele Millionen Euro kostete es?"
    sure = {"max_chars": 400, "sharpness": 1e4, "coverage": 0.9}
    [plain, *_] = select(store, question, QuoteSelector(**sure, referents=False))
    [with_referent, *_] = select(store, question, QuoteSelector(**sure))
    assert plain.text == "Es kostete drei Millionen Euro."
    assert with_referent.text == "Das Gehege der Pinguine wurde 2021 erneuert. " + plain.text
    assert with_referent.focus == (with_referent.text.index("Es"), len(with_referent.text))
    [held, *_] = select(store, question, QuoteSelector(**sure | {"max_chars": 40}))
    assert held.text == plain.text  # only within max_chars


@pytest.mark.parametrize(
    ("sentence", "refers"),
    [
        ("Dennoch gelang es ihnen, die Meisterschaft zu gewinnen.", True),
        ("Sie waren geneigt, die Franzosen zu unterstützen.", True),
        ("However, the council disagreed.", True),
        ("Außerdem wurden zwei Krankenhäuser zerstört.", True),
        ("Der Rat stimmte dagegen.", False),
        ("The council disagreed.", False),
    ],
)
def test_sentences_that_refer_back_are_recognised(sentence: str, refers: bool) -> None:
    assert refers_back(sentence) is refers


def test_the_sentence_the_reader_rates_best_leads(store) -> None:
    question = "Woher stammen die Zebras?"
    plain = select(store, question, QuoteSelector(max_chars=60))
    assert plain[0].text == "Die Zebras stammen aus Kenia."
    asked: list[list[str]] = []

    def read(sentences: list[str], cosines: np.ndarray) -> np.ndarray:
        asked.append(sentences)
        assert len(cosines) == len(sentences)
        return np.array([0.9 if "Straßenbahn" in s else 0.1 for s in sentences])

    quotes = select(store, question, QuoteSelector(max_chars=60, read_windows=4), read=read)
    assert len(asked) == 1 and len(asked[0]) <= 4
    assert "Straßenbahn" in quotes[0].text  # the reader's choice leads
    assert quotes[0].reader == pytest.approx(0.9)
    assert all("Straßenbahn" not in q.text for q in quotes[1:])


def test_the_reader_keeps_the_lead_it_agrees_with_and_records_its_chances(store) -> None:
    question = "Woher stammen die Zebras?"
    plain = select(store, question, QuoteSelector(max_chars=60))

    def read(sentences: list[str], cosines: np.ndarray) -> np.ndarray:
        return np.array([0.8 if "Zebras" in s else 0.2 for s in sentences])

    quotes = select(store, question, QuoteSelector(max_chars=60), read=read)
    assert [q.text for q in quotes] == [q.text for q in plain]
    assert quotes[0].reader == pytest.approx(0.8)


def test_without_a_reading_the_quotes_are_unchanged(store) -> None:
    question = "Was kostete das Gehege der Pinguine?"
    plain = select(store, question, QuoteSelector())
    quotes = select(store, question, QuoteSelector(), read=lambda sentences, cosines: None)
    assert quotes == plain and all(q.reader is None for q in quotes)


@pytest.mark.parametrize(
    ("lead", "other"), [(0.6, 0.95), (0.1, 0.4)], ids=["lead-answers", "none-answers"]
)
def test_the_lead_changes_only_where_the_reader_says_another_answers_and_it_does_not(
    store, lead: float, other: float
) -> None:
    question = "Woher stammen die Zebras?"
    plain = select(store, question, QuoteSelector(max_chars=60))

    def read(sentences: list[str], cosines: np.ndarray) -> np.ndarray:
        return np.array([lead if "Zebras" in s else other for s in sentences])

    quotes = select(store, question, QuoteSelector(max_chars=60), read=read)
    assert [q.text for q in quotes] == [q.text for q in plain]
