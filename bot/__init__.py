"""Front ends (CLI, chat, Telegram). The only package that reads settings."""
