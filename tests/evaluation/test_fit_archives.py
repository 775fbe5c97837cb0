"""The abstention fit's archives (`evaluation.fit_abstention.fit_archives`), in particular the
answer-removed ones that give it on-topic unanswerable questions."""

from __future__ import annotations

import pytest

from evaluation.corpora import answer_removal, folded, left_out, xquad_articles
from evaluation.fit_abstention import GROUPS, fit_archives, kind
from evaluation.scoring import load_questions
from tests.conftest import SHARED

XQUAD = SHARED / "xquad"
needs_xquad = pytest.mark.skipif(not XQUAD.is_dir(), reason="needs ../shared/xquad")


def test_a_fit_archives_kind_is_its_name_without_fit_and_group() -> None:
    assert kind("fit-bilingual-3") == "bilingual"
    assert kind("fit-de-0") == "de"
    assert kind("fit-removed-en-4") == "removed-en"


@needs_xquad
def test_answer_removed_fit_archives() -> None:
    """Per group a German and an English archive of all 48 articles, only the group's articles
    cut; every question is even-numbered and about the group; an unanswerable one's answer is
    gone from the cut article, an answerable one's is there; the off-topic archives come first
    and are the same without them."""
    plain = fit_archives(SHARED)
    archives = fit_archives(SHARED, removed=True)
    assert [a.name for a in archives[: len(plain)]] == [a.name for a in plain]
    removed = archives[len(plain) :]
    assert sorted(a.name for a in removed) == sorted(
        f"fit-removed-{language}-{g}" for g in range(GROUPS) for language in ("de", "en")
    )
    number = {q.id: k for k, q in enumerate(load_questions(XQUAD / "questions-en-corpus.jsonl"))}
    reported = left_out(SHARED)
    reported_chosen = answer_removal(SHARED).chosen  # make eval's odd-numbered ones
    groups = set()
    for archive in removed:
        language = kind(archive.name).removeprefix("removed-")
        plain_source, derived = archive.sources
        texts = dict(derived.texts)
        assert plain_source.exclude == frozenset(texts) and not texts.keys() & reported
        # all 48 articles: the group's from the derived texts, the others from the folder
        assert len(list(plain_source.folder.glob("*.txt"))) == 48
        groups.add(frozenset(texts))
        (question_set,) = archive.question_sets
        questions = question_set.questions
        for q in questions:
            (gold,) = q.gold
            prefix, doc = gold.doc.split("/", 1)
            assert prefix == f"xquad-{language}" and doc in texts
            k = number[q.id.removesuffix(f"-{q.lang}") if language == "de" else q.id]
            assert k % 2 == 0 and k not in reported_chosen
            assert (folded(gold.quote) in folded(texts[doc])) == q.answerable, q.id
        assert {q.lang for q in questions} == ({"de", "en"} if language == "de" else {"en"})
        unanswerable = sum(not q.answerable for q in questions)
        per_language = 2 if language == "de" else 1
        assert 2 * len(texts) * per_language <= unanswerable <= 3 * len(texts) * per_language
        assert len(questions) - unanswerable >= 2 * unanswerable
    names = set(xquad_articles(SHARED, "de")) - reported
    assert len(groups) == GROUPS and frozenset().union(*groups) == names
