"""Settings from the environment and an optional `.env` (names per ../shared/CONTRACT.md)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.stores import POSTGRESQL_SCHEMES, redacted, url_problem
from retrieval.translations import DING

DEFAULT_BASE_URL = "https://api.telegram.org/bot"

IdList = Annotated[frozenset[int], NoDecode]


class Settings(BaseSettings):
    """Every setting has a default except the bot token, which only `newsbot telegram` needs.

    The token is a `SecretStr`, so printing or logging the settings never shows it.
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    articles_dir: Path = Field(Path("articles"), alias="NEWSBOT_ARTICLES_DIR")
    index_dir: Path = Field(Path(".newsbot/index"), alias="NEWSBOT_INDEX_DIR")
    embedding_model: str = Field("multilingual-e5-small-q4", alias="NEWSBOT_EMBEDDING_MODEL")
    candidates: int = Field(20, alias="NEWSBOT_CANDIDATES", ge=1, le=1000)
    # A German-English word list in Ding's format (Debian: trans-de-en); empty: none, so an
    # English question matches German articles by meaning, names and numbers only.
    dictionary: Path | None = Field(DING, alias="NEWSBOT_DICTIONARY")
    # Empty: the embedded index in `index_dir`; `postgresql://…`: the index in PostgreSQL.
    store: str = Field("", alias="NEWSBOT_STORE")
    # Empty: the clock; an ISO date or date-time: what "today" means for questions such as
    # "last week" (to replay an old archive, and for tests).
    now: str = Field("", alias="NEWSBOT_NOW")
    # Feeds (newsbot feeds): seconds between two polls of a feed, and whether feeds and pages
    # on private, loopback and link-local addresses may be fetched (off: a URL typed by a
    # user never reaches an internal service).
    # On: the index stores paragraph vectors only, not what answers read of the paragraphs
    # they quote (sentence vectors, latent terms): about a third of the model's work per
    # article, but an answer then computes them while the user waits, the first time.
    index_paragraphs_only: bool = Field(False, alias="NEWSBOT_INDEX_PARAGRAPHS_ONLY")
    feed_interval: float = Field(600.0, alias="NEWSBOT_FEED_INTERVAL", ge=1)
    feed_allow_private: bool = Field(False, alias="NEWSBOT_FEED_ALLOW_PRIVATE")
    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str = Field(DEFAULT_BASE_URL, alias="TELEGRAM_BASE_URL")
    telegram_allowed_chat_ids: IdList = Field(frozenset(), alias="TELEGRAM_ALLOWED_CHAT_IDS")
    telegram_admin_ids: IdList = Field(frozenset(), alias="TELEGRAM_ADMIN_IDS")

    @field_validator("telegram_allowed_chat_ids", "telegram_admin_ids", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            try:
                return frozenset(int(p) for p in parts if p)
            except ValueError:
                raise ValueError(f"expected comma-separated numeric ids, got {value!r}") from None
        return value

    @field_validator("now")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"NEWSBOT_NOW: expected an ISO date or date-time (1987-03-31), got {value!r}"
                ) from None
        return value

    @property
    def today(self) -> date | None:
        """The fixed "today" of NEWSBOT_NOW, or None: the clock at each question."""
        return datetime.fromisoformat(self.now).date() if self.now else None

    @field_validator("store")
    @classmethod
    def _embedded_or_postgresql(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(POSTGRESQL_SCHEMES):
            raise ValueError(
                "NEWSBOT_STORE: expected a postgresql://… URL, or nothing for the embedded "
                "index in NEWSBOT_INDEX_DIR"
            )
        if value:  # the password never shows, not even when it is the part that is wrong
            problem = url_problem(value)
            if problem is not None:
                raise ValueError(f"NEWSBOT_STORE: {problem} ({redacted(value)})")
        return value

    @property
    def index_location(self) -> Path | str:
        """Where the index lives: the `NEWSBOT_STORE` URL, else the `index_dir` folder."""
        return self.store or self.index_dir

    @field_validator("telegram_bot_token", "dictionary", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class SettingsError(ValueError):
    """Settings that cannot be used: each problem in one line, without the input value that
    pydantic appends (it may be a password or a token)."""


def load_settings(**overrides: object) -> Settings:
    """Settings with command-line options (non-None `overrides`) winning over the environment.
    Raises `SettingsError`."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False, include_context=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            name = ".".join(map(str, error["loc"]))
            problems.append(message if message.startswith(name) else f"{name}: {message}")
        raise SettingsError("; ".join(problems)) from None
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "index_dir" in changes and "store" not in changes:
        changes["store"] = ""  # `--index DIR` wins over NEWSBOT_STORE too
    return settings.model_copy(update=changes) if changes else settings
