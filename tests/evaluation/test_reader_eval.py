"""`evaluation.reader_eval`: the fusions it fits and the table it reports."""

import numpy as np

from evaluation.reader_eval import Case, across, fit_fusion, report


def _case(cosine: list[float], reader: list[float], gold: list[bool]) -> Case:
    return Case("q", "en", ["s"] * len(gold), gold, np.array(cosine), np.array(reader))


def test_sets_across_languages_are_told_from_their_names() -> None:
    assert across("en q, German articles answerable")
    assert across("de q, English articles unanswerable")
    assert not across("de q, German articles answerable")
    assert not across("en q, English articles unanswerable")


def test_the_fusion_weighs_the_feature_that_separates(capsys) -> None:
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(60):
        gold = [True, False, False]
        reader = [rng.normal(2.0), rng.normal(-2.0), rng.normal(-2.0)]  # separates
        cosine = list(rng.normal(0.8, 0.02, size=3))  # does not
        cases.append(_case(cosine, reader, gold))
    w = fit_fusion({"en q, German articles answerable": cases})
    assert w[1] > 0.5 and abs(w[0]) < abs(w[1]) * 20
    # the report fuses a set across languages by `fusion_across`, the others by `fusion`
    unanswerable = [_case([0.8] * 3, [-2.0] * 3, [False] * 3) for _ in range(5)]
    sets = {
        "en q, German articles answerable": cases,
        "en q, German articles unanswerable": unanswerable,
    }
    report(sets, np.array([0.0, -1.0, 0.0]), w)
    line = capsys.readouterr().out.splitlines()[1].split()
    top1_fused = float(line[8])
    assert top1_fused > 0.9  # by w; by the first fusion (reader reversed) it would be ~0
