"""Role references get the name of the person they stand for, in the embedded text only."""

from __future__ import annotations

from pathlib import Path

from index.cleaning import parse_article
from index.lexicon import german_lexicon
from index.roles import find_mentions, resolve_roles
from tests.conftest import SAMPLE_ARTICLES


def test_a_role_after_an_apposition_gets_the_surname() -> None:
    sentences = [
        "Trump sprach mit dem ukrainischen Präsidenten Wolodymyr Selenskyj.",
        "Der ukrainische Staatschef erklärte, er sei bereit.",
    ]
    assert (
        resolve_roles(sentences)[1]
        == "Der ukrainische Staatschef Selenskyj erklärte, er sei bereit."
    )
    assert resolve_roles(sentences)[0] == sentences[0]


def test_affiliation_and_family_must_both_match() -> None:
    sentences = [
        "US-Präsident Donald Trump und Russlands Präsident Wladimir Putin telefonierten.",
        "Kremlsprecher Dmitri Peskow bestätigte das.",
        "Der russische Präsident stimmte nicht zu, der US-Präsident schon.",
        "Der ukrainische Präsident schwieg.",  # no Ukrainian president named: left alone
        "Der Sprecher des Kremls äußerte sich nicht.",  # no affiliation: left alone
    ]
    resolved = resolve_roles(sentences)
    assert (
        resolved[2]
        == "Der russische Präsident Putin stimmte nicht zu, der US-Präsident Trump schon."
    )
    assert resolved[3:] == sentences[3:]


def test_a_later_apposition_resolves_an_earlier_role() -> None:
    sentences = ["Der Kremlchef zögert.", "Russlands Präsident Wladimir Putin sagte am Abend …"]
    assert resolve_roles(sentences)[0] == "Der Kremlchef Putin zögert."


def test_english_roles_resolve_too() -> None:
    sentences = ["Ukrainian President Volodymyr Zelensky spoke.", "The Ukrainian president said …"]
    assert resolve_roles(sentences)[1] == "The Ukrainian president Zelensky said …"


def test_the_name_stops_at_a_common_noun_or_an_object() -> None:
    lexicon = german_lexicon()
    [mention] = find_mentions(
        ["Trump nimmt mit dem russischen Präsidenten Wladimir Putin Kontakt auf."], lexicon
    )
    assert mention.name == "Putin" and mention.key == ("russisch", "head")
    # "Putin" stands alone elsewhere, so in "Präsident Putin Kellogg …" Kellogg is the object.
    sentences = ["Putin lachte.", "Dass Russlands Präsident Putin Kellogg nicht mag, ist bekannt."]
    assert [m.name for m in find_mentions(sentences, lexicon)] == ["Putin"]


def test_sample_articles_resolve_the_known_role_references() -> None:
    lexicon = german_lexicon()
    changed = []
    for path in sorted(Path(SAMPLE_ARTICLES).glob("*.txt")):
        article = parse_article(path.read_text(encoding="utf-8"), path.name)
        sentences = [s.text for p in article.paragraphs for s in p.sentences]
        changed += [
            new
            for old, new in zip(sentences, resolve_roles(sentences, lexicon), strict=True)
            if old != new
        ]
    assert any(s.startswith("Der ukrainische Staatschef Selenskyj erklärte") for s in changed)
    assert any("stimmte der russische Präsident Putin dagegen nicht zu" in s for s in changed)
    # Every insertion is a name from the same article, never a common noun.
    for sentence in changed:
        assert not any(w in sentence for w in ("Präsident Kontakt", "Präsident Kellogg"))
