"""Parsed article -> chunks: paragraphs, split at sentence boundaries when too long to embed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence

from index.documents import Chunk, Paragraph, ParsedArticle, Sentence

TokenCounter = Callable[[str], int]
# Headroom under the model limit for the section prefix and special tokens.
TOKEN_MARGIN = 32


def chunk_id(article: str, paragraph: int, piece: int, text: str) -> int:
    """Stable positive 63-bit id: same article, place and text give the same id in every run."""
    digest = hashlib.blake2b(
        f"{article}\0{paragraph}\0{piece}\0{text}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


def embedding_text(chunk: Chunk, sentence_texts: Sequence[str] | None = None) -> str:
    """What the model sees: the section heading gives a paragraph its topic. `sentence_texts`
    replaces the sentences' own text."""
    text = chunk.text if sentence_texts is None else " ".join(sentence_texts)
    return f"{chunk.section}: {text}" if chunk.section else text


def chunk_article(
    article: ParsedArticle, count_tokens: TokenCounter, max_tokens: int = 512
) -> list[Chunk]:
    budget = max(16, max_tokens - TOKEN_MARGIN)
    chunks = []
    for paragraph in article.paragraphs:
        for piece, sentences in enumerate(_pieces(paragraph, count_tokens, budget)):
            text = " ".join(s.text for s in sentences)
            chunks.append(
                Chunk(
                    id=chunk_id(article.path, paragraph.number, piece, text),
                    article=article.path,
                    title=article.title,
                    date=article.date,
                    section=paragraph.section,
                    paragraph=paragraph.number,
                    sentences=sentences,
                )
            )
    return chunks


def _pieces(
    paragraph: Paragraph, count_tokens: TokenCounter, budget: int
) -> Iterator[tuple[Sentence, ...]]:
    """Greedy packing of whole sentences; a single over-long sentence stands alone (the model
    truncates it, which still embeds its beginning)."""
    if count_tokens(paragraph.text) <= budget:
        yield paragraph.sentences
        return
    current: list[Sentence] = []
    used = 0
    for sentence in paragraph.sentences:
        cost = count_tokens(sentence.text)
        if current and used + cost > budget:
            yield tuple(current)
            current, used = [], 0
        current.append(sentence)
        used += cost
    if current:
        yield tuple(current)
