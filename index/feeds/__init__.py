"""News that arrives by itself: RSS/Atom feeds and web pages become article files.

The pipeline is `net` (fetch, guarded) -> `parse` (feed -> entries) -> `extract` (page ->
article) -> `write` (article -> a Markdown file in the articles folder); `state` remembers
subscriptions and what was seen, and `poller` runs one round over the due feeds. The files are
the archive of record: the ordinary sync indexes them, there is no second path into the index.
"""
