"""Answers rendered as Telegram HTML must always be accepted by Telegram, however long or odd."""

from __future__ import annotations

from telegram import Bot

from bot.telegram.formatting import (
    MAX_MESSAGE_CHARS,
    format_answer_html,
    split_html_blocks,
    truncate_html,
    truncate_text,
    visible_length,
    visible_text,
)
from retrieval.answer import Answer, Quote
from tests.fakes.telegram import FakeTelegram, parse_html, validate_html


def make_quote(text: str, n: int = 1, **overrides: object) -> Quote:
    fields: dict = {
        "text": text,
        "article": f"{n:03d}_article.txt",
        "title": "Title",
        "date": "2025-03",
        "section": "Waffenruhe",
        "paragraph": n,
        "start": 0,
        "end": len(text),
        "score": 0.5,
    }
    fields.update(overrides)
    return Quote(**fields)


def make_answer(*quotes: Quote, answered: bool = True) -> Answer:
    return Answer(question="q?", answered=answered, quotes=quotes, language="en")


def assert_sendable(messages: list[str]) -> None:
    for message in messages:
        assert validate_html(message) is None, message[:200]
        assert visible_length(message) <= MAX_MESSAGE_CHARS


def test_quote_block_and_citation_format() -> None:
    [message] = format_answer_html(make_answer(make_quote("Putin stellte Bedingungen.", 7)))
    assert message == (
        "<blockquote>Putin stellte Bedingungen.</blockquote>\n"
        '<i>[1] Title, 2025-03, ¶7, "Waffenruhe"</i>'
    )


def test_missing_citation_parts_are_left_out() -> None:
    quote = make_quote("Text.", 3, title=None, date=None, section=None)
    [message] = format_answer_html(make_answer(quote))
    assert message.endswith("<i>[1] 003_article.txt, ¶3</i>")  # the file only without a title


def test_paragraph_range_and_the_answering_sentence_in_bold() -> None:
    text = "Erst kam der Anruf. Dann sagte Putin <Nein> & ging. Danach Stille."
    focus = (text.index("Dann"), text.index(" Danach"))
    quote = make_quote(text, 5, paragraph_end=7, focus=focus)
    [message] = format_answer_html(make_answer(quote))
    assert_sendable([message])
    assert message.startswith(
        "<blockquote>Erst kam der Anruf. <b>Dann sagte Putin &lt;Nein&gt; &amp; ging.</b> "
        "Danach Stille.</blockquote>"
    )
    assert '¶5–7, "Waffenruhe"' in visible_text(message)
    _, entities = parse_html(message)
    [bold] = [e for e in entities if e["type"] == "bold"]
    assert visible_text(message)[bold["offset"] : bold["offset"] + bold["length"]] == (
        "Dann sagte Putin <Nein> & ging."
    )


def test_a_long_section_is_shortened_with_the_full_heading_expandable() -> None:
    heading = "Moskaus Zurückhaltung gegenüber dem US-Waffenstillstandsvorschlag & seine Folgen"
    [message] = format_answer_html(make_answer(make_quote("Satz.", 2, section=heading)))
    assert_sendable([message])
    assert '<i>[1] Title, 2025-03, ¶2, "Moskaus Zurückhaltung gegenüber dem…"</i>' in message
    assert message.endswith(
        "\n<blockquote expandable>Moskaus Zurückhaltung gegenüber dem "
        "US-Waffenstillstandsvorschlag &amp; seine Folgen</blockquote>"
    )
    _, entities = parse_html(message)
    assert [e["type"] for e in entities] == ["blockquote", "italic", "expandable_blockquote"]


def test_a_giant_quote_keeps_its_answering_sentence_and_the_4096_limit() -> None:
    filler = "Vorher geschah viel & mehr. " * 300
    answer_sentence = "Putin nannte drei Bedingungen für eine Waffenruhe."
    text = filler + answer_sentence + " Danach" + " lange nichts." * 200
    focus = (len(filler), len(filler) + len(answer_sentence))
    [message] = format_answer_html(make_answer(make_quote(text, 1, focus=focus)))
    assert_sendable([message])
    assert visible_length(message) <= MAX_MESSAGE_CHARS
    assert f"<blockquote>… <b>{answer_sentence}</b> Danach lange nichts." in message
    assert visible_text(message).rstrip().endswith('[1] Title, 2025-03, ¶1, "Waffenruhe"')


def test_article_and_user_text_is_escaped() -> None:
    quote = make_quote(
        "<script>alert('x')</script> Tom & Jerry <b>", title="a&b<c>", section='"<i>"'
    )
    messages = format_answer_html(make_answer(quote), header="Your question: <b>&amp;</b>")
    assert_sendable(messages)
    shown = visible_text(messages[0])
    assert "Your question: <b>&amp;</b>" in shown
    assert "<script>alert('x')</script> Tom & Jerry <b>" in shown
    assert "a&b<c>" in shown
    assert "<script>" not in messages[0]


def test_thirty_quotes_split_into_valid_messages_in_order() -> None:
    sentence = "Die Verhandlungen über eine Waffenruhe <laufen> & dauern an. "
    quotes = [make_quote(sentence * (4 + i % 7), i + 1) for i in range(30)]
    messages = format_answer_html(make_answer(*quotes), count=30, header="30 quotes")

    assert len(messages) > 1
    assert_sendable(messages)
    text = "\n".join(visible_text(m) for m in messages)
    ranks = [text.index(f"[{n}] Title, 2025-03, ¶{n},") for n in range(1, 31)]
    assert ranks == sorted(ranks)
    for message in messages:  # a quote never leaves its citation behind
        assert message.count("<blockquote>") == message.count("<i>[")


def test_paging_numbers_quotes_by_rank() -> None:
    quotes = [make_quote(f"Quote {n}.", n) for n in range(1, 8)]
    [message] = format_answer_html(make_answer(*quotes), first=3, count=3)
    shown = visible_text(message)
    assert "[4]" in shown and "[6]" in shown
    assert "[3]" not in shown and "[7]" not in shown
    assert format_answer_html(make_answer(*quotes), first=7) == []


def test_unanswered_gives_only_the_header() -> None:
    answer = make_answer(make_quote("ignored"), answered=False)
    assert format_answer_html(answer, header="Dazu steht nichts in den Artikeln.") == [
        "Dazu steht nichts in den Artikeln."
    ]
    assert format_answer_html(answer) == []


def test_giant_quote_is_truncated_but_keeps_its_citation() -> None:
    quote = make_quote("Wort & Tat " * 2000, 1)
    [message] = format_answer_html(make_answer(quote))
    assert_sendable([message])
    shown = visible_text(message)
    assert "…\n[1] Title, 2025-03, ¶1" in shown
    assert "Tat…" in shown or "Wort…" in shown or "&…" in shown  # cut between words


def test_length_is_counted_in_utf16_units() -> None:
    assert visible_length("<b>a&amp;b</b>") == 3
    assert visible_length("😀") == 2
    quote = make_quote("😀 " * 3000, 1)  # 6000 code points, 9000 UTF-16 units
    messages = format_answer_html(make_answer(quote))
    assert_sendable(messages)


def test_truncate_text_cuts_at_word_boundary() -> None:
    assert truncate_text("short", 10) == "short"
    assert truncate_text("alpha beta gamma", 12) == "alpha beta…"
    assert truncate_text("x" * 50, 10) == "x" * 9 + "…"
    assert truncate_text("😀😀😀", 4) == "😀…"  # never half a surrogate pair


def test_truncate_html_keeps_tags_balanced() -> None:
    block = "<b>bold <i>" + "word &amp; " * 100 + "</i></b> tail"
    cut = truncate_html(block, 50)
    assert validate_html(cut) is None
    assert visible_length(cut) <= 50
    assert cut.endswith("…</i></b>")


def test_split_html_blocks_packs_greedily() -> None:
    blocks = ["<b>a</b>" * 10, "b" * 20, "c" * 30]
    assert split_html_blocks(blocks, limit=60) == ["<b>a</b>" * 10 + "\n\n" + "b" * 20, "c" * 30]
    assert split_html_blocks(["", "  ", "x"]) == ["x"]
    oversized = split_html_blocks(["y " * 100], limit=20)
    assert len(oversized) == 1 and visible_length(oversized[0]) <= 20


async def test_formatted_answer_round_trip_through_ptb() -> None:
    quotes = [make_quote(f"Quote <{n}> & more.", n) for n in range(1, 4)]
    [html_text] = format_answer_html(make_answer(*quotes), header="Answer:")
    with FakeTelegram(token="123:ABC") as tg:
        async with Bot("123:ABC", base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
            me = await bot.get_me()
            sent = await bot.send_message(chat_id=42, text=html_text, parse_mode="HTML")
    assert me.username == tg.bot_username
    assert sent.text == parse_html(html_text)[0] == visible_text(html_text).strip()
    assert [e.type for e in sent.entities].count("blockquote") == 3
    assert tg.errors == []
    assert tg.sent_messages(42)[0]["raw_text"] == html_text
