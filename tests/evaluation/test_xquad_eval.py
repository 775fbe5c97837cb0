"""A broad corpus in `make test`: 8 German xquad articles on 8 topics, with the real model.

Six of them are indexed; the English and German questions about those six are answerable
(odd-numbered ones: the even-numbered ones fitted the abstention model), and every question
about the other two is unanswerable on this index — topics near the rest, not trivia. Floors
sit a little under the values measured when they were set (see `FLOORS`).
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from evaluation.scoring import evaluate, load_questions
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from retrieval.answerer import Answerer
from tests.conftest import SHARED

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # indexes with the real model

XQUAD = SHARED / "xquad"
ARTICLES = sorted(p.name for p in (XQUAD / "articles-de").glob("*.txt"))[::6]  # 8 topics
INDEXED, LEFT_OUT = ARTICLES[:6], ARTICLES[6:]

# Measured when set (82 answerable and 40 unanswerable questions per language; 2026-12-05, with
# word translations): English questions hit@1 .77, hit@3 .82, quote precision 1.0; German .83,
# .89, .97. Abstained on answerable .10 (a six-article archive is smaller than the 40-article ones
# the model was fitted on; refits alone moved this between .085 and .11), on unanswerable .93.
# Floors sit ~5 questions under.
FLOORS = {
    "en": {"hit@1": 0.7, "hit@3": 0.75, "quote_precision": 0.9},
    "de": {"hit@1": 0.77, "hit@3": 0.83, "quote_precision": 0.9},
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> dict:
    articles = tmp_path_factory.mktemp("xquad") / "articles"
    articles.mkdir()
    for name in INDEXED:
        shutil.copyfile(XQUAD / "articles-de" / name, articles / name)
    sync_index(articles, articles.parent / "index", real_embedder)
    answerer = Answerer(IndexStore.open(articles.parent / "index"), real_embedder)
    questions = []
    for i, question in enumerate(load_questions(XQUAD / "questions-de-corpus.jsonl")):
        doc = question.gold[0].doc
        if doc in LEFT_OUT:
            questions.append(replace(question, answerable=False, gold=()))
        elif doc in INDEXED and (i // 2) % 2 == 1:
            questions.append(question)
    return evaluate(answerer, questions, batch=True)


@pytest.mark.parametrize("language", ["en", "de"])
def test_xquad_floors(report: dict, language: str) -> None:
    metrics = report["metrics"][language]
    for key, floor in FLOORS[language].items():
        assert metrics[key] >= floor, key


def test_xquad_abstention(report: dict) -> None:
    metrics = report["metrics"]["all"]
    assert metrics["abstained_answerable"] <= 0.15
    assert metrics["abstained_unanswerable"] >= 0.85
