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


# Latency (eval p50 <= 1.5x the bare query embedding) is a speed goal: `make bench` checks it
# (benchmarks/run.py, answer_p50_over_embed_p50), not a timed unit test.


# (file, hit@3 at least, abstained on answerable at most, abstained on unanswerable at least).
# Measured at HEAD: extra 1.00/0/1.00; blind .92/0/.75 (70 questions a colleague wrote from the
# articles alone, used for decisions since); blind2 .88/0/.70 (60 more, written the same way and
# first measured after the work it checks).
FLOORS = [
    (EXTRA_DEV, 0.9, 0.0, 0.8),
    (BLIND_DEV, 0.85, 0.02, 0.7),
    (BLIND2_DEV, 0.83, 0.03, 0.65),
]


@pytest.mark.parametrize(
    ("path", "hit3", "false_abstain", "abstain"), FLOORS, ids=["extra", "blind", "blind2"]
)
def test_more_dev_sets_floor(
    answerer: Answerer, path: Path, hit3: float, false_abstain: float, abstain: float
) -> None:
    metrics = evaluate_file(answerer, path)["metrics"]["all"]
    assert metrics["hit@3"] >= hit3
    assert metrics["abstained_answerable"] <= false_abstain
    assert metrics["abstained_unanswerable"] >= abstain
