"""Settings: defaults, environment, .env, overrides; the token never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, load_settings

NAMES = [
    "NEWSBOT_ARTICLES_DIR",
    "NEWSBOT_INDEX_DIR",
    "NEWSBOT_EMBEDDING_MODEL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BASE_URL",
    "TELEGRAM_ALLOWED_CHAT_IDS",
    "TELEGRAM_ADMIN_IDS",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_match_the_contract():
    settings = Settings()
    assert settings.articles_dir == Path("articles")
    assert settings.index_dir == Path(".newsbot/index")
    assert settings.embedding_model == "multilingual-e5-small-q4"
    assert settings.telegram_bot_token is None
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.telegram_allowed_chat_ids == frozenset()
    assert settings.telegram_admin_ids == frozenset()


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=123:secret-token\nTELEGRAM_ALLOWED_CHAT_IDS=1, -1002,3\n"
        "NEWSBOT_INDEX_DIR=from-dotenv\n"
    )
    monkeypatch.setenv("NEWSBOT_INDEX_DIR", "from-env")  # the environment wins over .env
    settings = Settings()
    assert settings.index_dir == Path("from-env")
    assert settings.telegram_allowed_chat_ids == frozenset({1, -1002, 3})
    assert settings.telegram_bot_token.get_secret_value() == "123:secret-token"
    assert "secret-token" not in repr(settings) and "secret-token" not in str(settings)


def test_command_line_overrides_win(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSBOT_ARTICLES_DIR", "env-articles")
    settings = load_settings(articles_dir=Path("cli-articles"), index_dir=None)
    assert settings.articles_dir == Path("cli-articles")
    assert settings.index_dir == Path(".newsbot/index")


def test_bad_id_list_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TELEGRAM_ADMIN_IDS", "12,abc")
    with pytest.raises(ValueError, match="numeric ids"):
        Settings()


def test_the_store_is_the_embedded_folder_or_a_postgresql_url(monkeypatch) -> None:
    assert load_settings().index_location == Path(".newsbot/index")
    monkeypatch.setenv("NEWSBOT_STORE", "postgresql://bot@db/news")
    assert load_settings().index_location == "postgresql://bot@db/news"
    # `--index DIR` on the command line wins over the setting
    assert load_settings(index_dir=Path("here")).index_location == Path("here")
    monkeypatch.setenv("NEWSBOT_STORE", "mysql://bot@db/news")
    with pytest.raises(ValueError, match="NEWSBOT_STORE: expected a postgresql://"):
        load_settings()
    monkeypatch.setenv("NEWSBOT_STORE", "")
    assert load_settings().store == ""


def test_only_the_indexer_of_a_shared_index_adds_articles(monkeypatch) -> None:
    from bot.telegram.admin import shared_index_problem
    from bot.telegram.state import BotState

    assert shared_index_problem(load_settings(), BotState()) is None  # embedded: the bot syncs
    monkeypatch.setenv("NEWSBOT_STORE", "postgresql://bot@db/news")
    assert "another newsbot process keeps in sync" in shared_index_problem(
        load_settings(), BotState()
    )
    locked = BotState(service_lock=object())  # type: ignore[arg-type]
    assert shared_index_problem(load_settings(), locked) is None
