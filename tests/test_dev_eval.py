"""Floors on the development sets with the real model: a regression guard, not a target.

dev.jsonl has 10 answerable questions, so hit@3 moves in steps of .1. One question, dev-06, is
a known miss of the bundled e5-small model: the gold paragraph ("Der ukrainische Staatschef
erklärte, er … sei bereit, die Angriffe auf Russland teilweise einzustellen") never names
Zelensky, and the model ranks it 8th of 64 chunks for the English question (24th even for a
German paraphrase). The strict xfail below turns red the day that is fixed, so the floor can be
raised to 1.0 then.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from index.store import IndexStore
from retrieval.answerer import Answerer
from retrieval.evaluate import evaluate_file
from tests.conftest import DEV_SET, ROOT

pytestmark = pytest.mark.slow

EXTRA_DEV = ROOT / "retrieval" / "data" / "extra_dev.jsonl"


@pytest.fixture(scope="module")
def answerer(real_index: Path, real_embedder) -> Answerer:
    return Answerer(IndexStore.open(real_index, real_embedder.model_id), real_embedder)


@pytest.fixture(scope="module")
def dev_report(answerer: Answerer) -> dict:
    return evaluate_file(answerer, DEV_SET)


@pytest.fixture(scope="module")
def extra_report(answerer: Answerer) -> dict:
    return evaluate_file(answerer, EXTRA_DEV)


def test_dev_floor(dev_report: dict) -> None:
    metrics = dev_report["metrics"]["all"]
    assert metrics["abstained_unanswerable"] == 1.0  # every unanswerable question
    assert metrics["abstained_answerable"] == 0.0  # and no answerable one
    assert metrics["hit@3"] >= 0.9
    assert metrics["mrr"] >= 0.8
    for language in ("en", "de"):
        assert dev_report["metrics"][language]["abstained_unanswerable"] == 1.0


@pytest.mark.xfail(strict=True, reason="dev-06: e5-small ranks the gold paragraph 8th")
def test_dev_06_in_the_first_three_quotes(dev_report: dict) -> None:
    [item] = [q for q in dev_report["questions"] if q["id"] == "dev-06"]
    assert item["rank"] is not None and item["rank"] <= 3


def test_extra_dev_floor(extra_report: dict) -> None:
    metrics = extra_report["metrics"]["all"]
    assert metrics["hit@3"] >= 0.9
    assert metrics["abstained_answerable"] == 0.0
    assert metrics["abstained_unanswerable"] >= 0.8


# Latency (eval p50 <= 1.5x the bare query embedding) is a speed goal: `make bench` checks it
# (benchmarks/run.py, answer_p50_over_embed_p50), not a timed unit test.
