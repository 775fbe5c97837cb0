"""Test doubles importable without pytest: the embedder, a Telegram Bot API server, a PostgreSQL
server with pgvector."""
