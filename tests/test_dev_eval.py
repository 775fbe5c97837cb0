"""Floors on the development sets with the real model: a regression guard, not a target.

dev.jsonl has 10 answerable questions, so hit@3 moves in steps of .1 and the issue's floor of
.95 means every one. dev-06 is the narrow one: its gold paragraph ("Der ukrainische Staatschef
erklärte, er … sei bereit, die Angriffe auf Russland teilweise einzustellen") never names
Zelensky. Role resolution (index.roles), the articles' spelling of the name (retrieval.spelling)
and the hub penalty (retrieval.hubness) bring it from 4th to 2nd, .005 above the 4th quote.
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
BLIND_DEV = ROOT / "retrieval" / "data" / "blind_dev.jsonl"
BLIND2_DEV = ROOT / "retrieval" / "data" / "blind2_dev.jsonl"


@pytest.fixture(scope="module")
def answerer(real_index: Path, real_embedder) -> Answerer:
    return Answerer(IndexStore.open(real_index, real_embedder.model_id), real_embedder)


@pytest.fixture(scope="module")
def dev_report(answerer: Answerer) -> dict:
    return evaluate_file(answerer, DEV_SET)


@pytest.fixture(scope="module")
def extra_report(answerer: Answerer) -> dict:
    return evaluate_file(answerer, EXTRA_DEV)


@pytest.fixture(scope="module")
def blind_report(answerer: Answerer) -> dict:
    return evaluate_file(answerer, BLIND_DEV)


@pytest.fixture(scope="module")
def blind2_report(answerer: Answerer) -> dict:
    return evaluate_file(answerer, BLIND2_DEV)


def test_dev_floor(dev_report: dict) -> None:
    metrics = dev_report["metrics"]["all"]
    assert metrics["abstained_unanswerable"] == 1.0  # every unanswerable question
    assert metrics["abstained_answerable"] == 0.0  # and no answerable one
    assert metrics["hit@3"] >= 0.95
    assert metrics["mrr"] >= 0.85
    for language in ("en", "de"):
        assert dev_report["metrics"][language]["abstained_unanswerable"] == 1.0


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


def test_blind_dev_floor(blind_report: dict) -> None:
    """70 questions a colleague wrote from the articles alone (measured: hit@3 .90, abstained
    on unanswerable .75, on answerable 0)."""
    metrics = blind_report["metrics"]["all"]
    assert metrics["hit@3"] >= 0.85
    assert metrics["abstained_answerable"] <= 0.02
    assert metrics["abstained_unanswerable"] >= 0.7


def test_blind2_dev_floor(blind2_report: dict) -> None:
    """60 more questions written blind, first measured after the work they check was done
    (hit@3 .88, abstained on unanswerable .70, on answerable .03, then 0 after capitals
    were read as their governments)."""
    metrics = blind2_report["metrics"]["all"]
    assert metrics["hit@3"] >= 0.83
    assert metrics["abstained_answerable"] <= 0.03
    assert metrics["abstained_unanswerable"] >= 0.65
