"""The `FeedState` contract, run by both implementations (SQLite beside the embedded index,
tables in the PostgreSQL index's database)."""

from __future__ import annotations

import pytest

from index.feeds.state import (
    FeedExistsError,
    FeedState,
    Story,
    UnknownFeedError,
    find_feed,
    keys_for,
    normalize_url,
    open_feed_state,
)
from tests.conftest import STORES, new_pg_index


@pytest.fixture(params=STORES)
def location(request, tmp_path):
    if request.param == "postgresql":
        return new_pg_index(request.getfixturevalue("pg_server"))
    return tmp_path / "index"


@pytest.fixture
def state(location):
    opened = open_feed_state(location)
    yield opened
    opened.close()


class TestFeedStateContract:
    def test_is_a_feed_state(self, state):
        assert isinstance(state, FeedState)

    def test_feeds_are_added_listed_and_removed(self, state):
        first = state.add_feed("https://a.example/feed.xml")
        second = state.add_feed("https://b.example/atom")
        assert [f.url for f in state.feeds()] == [first.url, second.url]
        assert first.next_poll == 0 and first.failures == 0  # due at once
        with pytest.raises(FeedExistsError):
            state.add_feed("https://a.example/feed.xml")
        assert find_feed(state, str(second.id)).url == second.url
        assert find_feed(state, "https://a.example/feed.xml").id == first.id
        assert state.remove_feed(first.id).url == first.url
        assert [f.url for f in state.feeds()] == [second.url]
        with pytest.raises(UnknownFeedError):
            state.remove_feed(first.id)
        with pytest.raises(UnknownFeedError):
            find_feed(state, "https://a.example/feed.xml")

    def test_numbers_are_not_reused_after_a_removal(self, state):
        first = state.add_feed("https://a.example/1")
        state.remove_feed(first.id)
        assert state.add_feed("https://a.example/2").id != first.id

    def test_poll_state_is_kept(self, state):
        feed = state.add_feed("https://a.example/feed.xml")
        feed.etag, feed.last_modified = '"abc"', "Sun, 06 Dec 2026 10:00:00 GMT"
        feed.last_success, feed.failures, feed.next_poll = 1000.5, 2, 2000.25
        feed.last_error, feed.last_error_at, feed.title = "HTTP 503", 1500.0, "Nachrichten"
        state.update_feed(feed)
        assert state.feeds() == [feed]

    def test_stories_are_found_by_any_key(self, state):
        story = Story("feeds/a/2026-12-06-x.md", "https://a.example/x", "h1")
        keys = keys_for(guid="g1", link="https://a.example/x?utm_source=rss", text_hash="h1")
        state.save_story(story, {keys[0]: "sig1", keys[1]: "sig1", keys[2]: None})
        assert state.story(["guid:nothing", "text:h1"]) == story
        assert state.story(keys_for(link="https://A.example/x/")) == story
        assert state.signature("guid:g1") == "sig1"
        assert state.signature("text:h1") is None
        assert state.story(["guid:other"]) is None

    def test_a_story_update_keeps_its_path_and_signatures_can_change(self, state):
        state.save_story(Story("p.md", None, "h1"), {"guid:g": "s1", "text:h1": None})
        state.save_story(Story("p.md", "https://x.example/p", "h2"), {"guid:g": "s2"})
        assert state.story(["guid:g"]) == Story("p.md", "https://x.example/p", "h2")
        assert state.signature("guid:g") == "s2"
        state.save_story(Story("p.md", "https://x.example/p", "h2"), {"guid:g": None})
        assert state.signature("guid:g") == "s2"  # None keeps what was known

    def test_everything_lasts_across_a_reopen(self, state, location):
        feed = state.add_feed("https://a.example/feed.xml")
        feed.etag = '"v7"'
        state.update_feed(feed)
        state.save_story(Story("p.md", None, "h"), {"guid:g": "s"})
        state.close()
        again = open_feed_state(location)
        try:
            assert again.feeds() == [feed]
            assert again.story(["guid:g"]) == Story("p.md", None, "h")
        finally:
            again.close()


def test_urls_are_normalized_for_matching():
    assert normalize_url("HTTPS://News.Example/a/b/?utm_source=rss&id=3#top") == (
        "https://news.example/a/b?id=3"
    )
