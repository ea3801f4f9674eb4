"""Logging through the standard library, configured the way discord.py does it."""

from __future__ import annotations

import logging

import discord


def configure_logging(level: str) -> None:
    """One handler on the root logger (discord.py's formatter), one line per event."""
    discord.utils.setup_logging(level=logging.getLevelNamesMapping()[level], root=True)
    # aiohttp's access log would print full request lines (OAuth callbacks carry codes); we log our own.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters at DEBUG (PKCE verifiers, states): never emit those.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))
