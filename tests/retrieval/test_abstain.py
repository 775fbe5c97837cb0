"""Stage 4, the decision to answer: evidence, the fitted model, and what it does on real text."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from evaluation.stages import AlwaysAnswer
from index.documents import Chunk, Sentence
from retrieval.abstain import (
    FEATURES,
    GAP_CAP,
    Abstainer,
    AbstentionModel,
    Evidence,
    Tree,
    asks_for_quantity,
    fitted_models,
    gather_evidence,
    mentions_quantity,
    model_key,
    same_story,
    sentence_gap,
)
from retrieval.answer import Quote
from retrieval.answerer import Answerer
from retrieval.candidates import Candidate, Retrieval


def evidence(**values: float) -> Evidence:
    return Evidence(**{name: values.get(name, 0.0) for name in FEATURES})


def stump(feature: str, step: float) -> AbstentionModel:
    """One split at 0 on `feature`: logit -step below or at it, +step above."""
    tree = Tree(
        feature=(FEATURES.index(feature), -1, -1),
        threshold=(0.0, 0.0, 0.0),
        left=(1, 0, 0),
        right=(2, 0, 0),
        value=(0.0, -step, step),
    )
    return AbstentionModel("m", FEATURES, baseline=0.0, trees=(tree,), threshold=0.5)


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("How many people live there?", True),
        ("Wie viele Drohnen?", True),
        ("Wie alt ist er?", True),
        ("How much did it cost?", True),
        ("Who said how it went?", False),
        ("Wie geht es weiter?", False),
    ],
)
def test_quantity_questions_are_recognised(question: str, asks: bool) -> None:
    assert asks_for_quantity(question) is asks


def test_quantities_are_digits_or_number_words_but_not_articles() -> None:
    assert mentions_quantity("Es waren 308 Punkte.")
    assert mentions_quantity("Drei Menschen starben.")
    assert not mentions_quantity("Ein Mensch starb.")


def test_the_model_sums_its_trees_into_a_probability() -> None:
    m = stump("lexical_top", 2.0)
    assert m.probability(evidence(lexical_top=0.0)) == pytest.approx(1 / (1 + np.exp(2.0)))
    assert m.probability(evidence(lexical_top=1.0)) == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert AbstentionModel.from_json(json.loads(json.dumps(m.to_json()))) == m


def test_exported_trees_give_scikit_learns_probabilities() -> None:
    """The fit script's export, evaluated without scikit-learn, matches the fitted model."""
    from evaluation.fit_abstention import boosted_trees, export_trees

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(FEATURES)))
    y = (x[:, 0] + 0.5 * x[:, 3] * x[:, 5] + rng.normal(scale=0.5, size=400)) > 0
    fitted = boosted_trees(x, y)
    baseline, trees = export_trees(fitted)
    m = AbstentionModel("m", FEATURES, baseline=baseline, trees=trees, threshold=0.5)
    probe = rng.normal(size=(50, len(FEATURES)))
    ours = [m.probability(Evidence(*row)) for row in probe]
    assert ours == pytest.approx(fitted.predict_proba(probe)[:, 1].tolist(), abs=1e-9)


def test_a_model_file_of_an_older_format_is_ignored(tmp_path) -> None:
    old = {"models": [{"embedder_id": "m", "features": [], "coef": [], "threshold": 0.5}]}
    (tmp_path / "abstention.json").write_text(json.dumps(old))
    assert fitted_models(tmp_path / "abstention.json") == {}


def test_a_model_fitted_on_evidence_this_code_does_not_gather_is_ignored(tmp_path) -> None:
    """Answering falls back to "answer when there are quotes" rather than failing."""
    m = stump("lexical_top", 2.0)
    data = m.to_json() | {"features": [*FEATURES, "a_feature_since_removed"]}
    (tmp_path / "abstention.json").write_text(json.dumps({"models": [data]}))
    assert fitted_models(tmp_path / "abstention.json") == {}


def test_the_decision_uses_the_models_threshold_or_an_override() -> None:
    m = stump("lexical_top", 2.0)
    weak, strong = evidence(lexical_top=-1.0), evidence(lexical_top=1.0)
    assert Abstainer(model=m).decide(strong, "any", True).answered
    assert not Abstainer(model=m).decide(weak, "any", True).answered
    assert Abstainer(model=m, threshold=0.0).decide(weak, "any", True).answered
    assert not Abstainer(model=m).decide(strong, "any", False).answered  # no quotes, no answer
    assert AlwaysAnswer().decide(weak, "any", True).answered  # the suite's stand-in
    assert not AlwaysAnswer().decide(weak, "any", False).answered


def test_a_question_for_a_number_whose_quotes_hold_none_is_abstained_on() -> None:
    m = stump("lexical_top", 2.0)
    unanswered = evidence(lexical_top=1.0, quantity_missing=1.0)
    verdict = Abstainer(model=m).decide(unanswered, "any", True)
    assert not verdict.answered and verdict.confidence == pytest.approx(m.probability(unanswered))
    assert not Abstainer().decide(unanswered, "a-model-nobody-fitted", True).answered
    assert Abstainer(model=m, quantity_check=False).decide(unanswered, "any", True).answered


def test_a_number_in_any_quote_answers_a_question_for_a_number() -> None:
    sentence = Sentence("Der Zoo hat 14 Zebras.", 0, 22)
    chunk = Chunk(1, "a.txt", None, None, None, 1, (sentence,))
    candidates = (Candidate(chunk, 0.9, 0.5, 0.9),)
    retrieval = Retrieval(candidates, {"zebras": 1.0}, ())
    words = Quote("Die Zebras kamen aus Kenia.", "a.txt", None, None, None, 1, 0, 27, 1.0)
    number = Quote(sentence.text, "a.txt", None, None, None, 1, 0, 22, 0.9)
    question = "Wie viele Zebras hat der Zoo?"
    assert gather_evidence(question, "de", retrieval, candidates, [words]).quantity_missing == 1.0
    found = gather_evidence(question, "de", retrieval, candidates, [words, number])
    assert found.quantity_missing == 0.0


def test_an_embedder_without_a_fitted_model_answers_when_there_are_quotes() -> None:
    verdict = Abstainer().decide(evidence(), "a-model-nobody-fitted", True)
    assert verdict.answered and verdict.confidence is None


def test_the_shipped_model_says_what_it_was_fitted_on() -> None:
    models = fitted_models()
    assert models, "retrieval/data/abstention.json holds at least the bundled model's fit"
    for key, fitted in models.items():
        assert set(fitted.features) <= set(FEATURES) and key == fitted.key
        assert ("reader_best" in fitted.features) == key.endswith("+reader")
        assert "xquad" in fitted.fitted_on and 0.0 < fitted.threshold < 1.0


def test_evidence_from_a_retrieval() -> None:
    sentence = Sentence("Der Zoo hat 14 Zebras.", 0, 22)
    chunk = Chunk(1, "a.txt", None, None, None, 1, (sentence,))
    candidates = tuple(Candidate(chunk, d, 0.5, d) for d in (0.9, 0.8, 0.8, 0.8, 0.7, 0.7))
    retrieval = Retrieval(candidates, {"zebras": 1.0, "zoo": 1.0, "giraffen": 2.0}, ("giraffen",))
    quote = Quote(sentence.text, "a.txt", None, None, None, 1, 0, 22, 1.0)
    found = gather_evidence("Wie viele Zebras hat der Zoo?", "de", retrieval, candidates, [quote])
    assert found.dense_top == pytest.approx(0.9)
    assert found.dense_gap == pytest.approx(0.2)
    assert found.unknown_share == pytest.approx(0.5)
    assert found.quote_lexical == pytest.approx(0.5)
    assert found.quantity_missing == 0.0 and found.language_mismatch == 0.0
    assert found.dense_other_language == 0.0  # no candidate in another language


def test_evidence_notes_how_close_the_best_paragraph_in_the_other_language_is() -> None:
    german = Chunk(1, "de.txt", None, None, None, 1, (Sentence("Der Zoo hat 14 Zebras.", 0, 22),))
    english = Chunk(
        2, "en.txt", None, None, None, 1, (Sentence("The city has a new tram line.", 0, 29),)
    )
    candidates = (Candidate(english, 0.88, 0.5, 0.88), Candidate(german, 0.84, 0.0, 0.84))
    retrieval = Retrieval(candidates, {"zebras": 1.0}, ())
    found = gather_evidence("How many zebras does the zoo have?", "en", retrieval, candidates, [])
    assert found.dense_other_language == pytest.approx(0.84)
    assert found.language_mismatch == 0.0


def _paragraph(chunk_id: int, article: str, dense: float, text: str = "") -> Candidate:
    text = text or f"Satz Nummer {chunk_id} aus {article}."
    chunk = Chunk(chunk_id, article, None, None, None, 1, (Sentence(text, 0, len(text)),))
    return Candidate(chunk, dense, 0.0, dense)


def test_the_sentence_gap_compares_the_best_sentences_of_the_best_ranked_story_and_the_rest() -> (
    None
):
    ranked = [
        _paragraph(1, "a.txt", 0.86),
        _paragraph(2, "b.txt", 0.85),
        _paragraph(3, "a.txt", 0.8),
    ]
    a = frozenset({"a.txt"})
    assert sentence_gap(ranked, {1: 0.84, 2: 0.86, 3: 0.90}, a) == pytest.approx(0.04)
    assert sentence_gap(ranked, {1: 0.84, 2: 0.88}, a) == pytest.approx(-0.04)
    assert sentence_gap(ranked, {1: 0.84, 3: 0.9}, a) == GAP_CAP  # quotes from one article only
    assert sentence_gap(ranked, {}, a) == 0.0


def test_an_updated_copy_of_a_paragraph_makes_its_article_the_same_story() -> None:
    news = "Der Zoo hat seit Montag 14 Zebras, teilte die Stadt mit."
    update = "Der Zoo hat seit Montag 15 Zebras, teilte die Stadt am Dienstag mit."
    candidates = [
        _paragraph(1, "a.txt", 0.86, news),
        _paragraph(2, "a-update.txt", 0.86, update),
        _paragraph(4, "a-update.txt", 0.84),  # the update's other paragraphs are no rivals either
        _paragraph(3, "b.txt", 0.80),
    ]
    story = same_story(candidates, "a.txt")
    assert story == {"a.txt", "a-update.txt"}
    assert sentence_gap(candidates, {1: 0.9, 2: 0.9, 4: 0.89, 3: 0.85}, story) == pytest.approx(
        0.05
    )


def test_evidence_carries_the_sentence_gap() -> None:
    ranked = (_paragraph(1, "a.txt", 0.86), _paragraph(2, "b.txt", 0.84))
    retrieval = Retrieval(ranked, {"satz": 1.0}, ())
    found = gather_evidence("Welcher Satz?", "de", retrieval, ranked, [], {1: 0.9, 2: 0.85})
    assert found.sentence_gap == pytest.approx(0.05)


# --- with the real model ---------------------------------------------------------------------


@pytest.fixture
def answerer(real_answerer: Answerer) -> Answerer:
    return real_answerer


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("What is the population of Brazil?", "en"),
        ("How do I make a good espresso at home?", "en"),
        ("Wer hat die Fußball-Weltmeisterschaft 2014 gewonnen?", "de"),
        ("Wie viele Einwohner hat München?", "de"),
    ],
)
def test_off_topic_questions_abstain_in_their_language(
    answerer: Answerer, question: str, language: str
) -> None:
    answer = answerer.answer(question)
    assert not answer.answered and answer.quotes == ()
    assert answer.language == language


@pytest.mark.slow
@pytest.mark.parametrize("message", ["?", "🙂🙂", "ok thanks", "test"])
def test_a_message_that_asks_nothing_gets_no_quotes(answerer: Answerer, message: str) -> None:
    answer = answerer.answer(message)
    assert not answer.answered and answer.quotes == ()


def test_an_answer_the_reader_read_is_judged_by_the_model_fitted_with_the_reader(
    tmp_path, monkeypatch
) -> None:
    plain = AbstentionModel(
        "e", tuple(f for f in FEATURES if f != "reader_best"), 0.0, (), threshold=0.4
    )
    reading = AbstentionModel("e", FEATURES, 0.0, (), threshold=0.6)  # p = .5 for both
    assert plain.key == model_key("e", reads=False) == "e"
    assert reading.key == model_key("e", reads=True) == "e+reader"
    path = tmp_path / "abstention.json"
    path.write_text(json.dumps({"models": [plain.to_json(), reading.to_json()]}))
    monkeypatch.setattr("retrieval.abstain.fitted_models", lambda: fitted_models(path))
    read, unread = evidence(reader_best=0.3), evidence(reader_best=-1.0)
    verdict = Abstainer().decide(read, "e", True)
    # the model without the reader says the story is covered (.5 >= .4), the one with it that
    # the quotes do not say what is asked (.5 < .6): abstained, on topic
    assert not verdict.answered and verdict.on_topic
    assert Abstainer().decide(unread, "e", True).answered  # threshold .4
    # both must answer: where the model without the reader abstains, so does the answer
    strict = replace(plain, threshold=0.7)
    lenient = replace(reading, threshold=0.1)
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"models": [strict.to_json(), lenient.to_json()]}))
    monkeypatch.setattr("retrieval.abstain.fitted_models", lambda: fitted_models(both))
    verdict = Abstainer().decide(read, "e", True)
    assert not verdict.answered and not verdict.on_topic
    monkeypatch.setattr("retrieval.abstain.fitted_models", lambda: fitted_models(path))
    # only the plain model: it judges read answers too
    only_plain = tmp_path / "plain.json"
    only_plain.write_text(json.dumps({"models": [plain.to_json()]}))
    monkeypatch.setattr("retrieval.abstain.fitted_models", lambda: fitted_models(only_plain))
    assert Abstainer().decide(read, "e", True).answered


def test_evidence_carries_the_readers_best_chance() -> None:
    sentence = Sentence("Der Zoo hat 14 Zebras.", 0, 22)
    chunk = Chunk(1, "a.txt", None, None, None, 1, (sentence,))
    candidates = (Candidate(chunk, 0.9, 0.5, 0.9),)
    retrieval = Retrieval(candidates, {"zebras": 1.0}, ())
    quote = Quote(sentence.text, "a.txt", None, None, None, 1, 0, 22, 1.0)
    found = gather_evidence("Wie viele Zebras?", "de", retrieval, candidates, [quote])
    assert found.reader_best == -1.0  # nothing read
    read = [replace(quote, reader=0.2), replace(quote, reader=0.7), quote]
    assert gather_evidence("Wie viele Zebras?", "de", retrieval, candidates, read).reader_best == (
        pytest.approx(0.7)
    )
