"""Storage: the SQLite database, its migrations and the small repositories built on it."""

from bot.storage.database import Database

__all__ = ["Database"]
