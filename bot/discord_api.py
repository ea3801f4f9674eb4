"""Pointing discord.py at another Discord API base (``DISCORD_API_BASE``: a REST proxy, or a test double).

discord.py keeps its REST base in the class attribute ``Route.BASE`` (used for REST calls, interaction
responses and webhooks alike), and a non-sharded client connects to ``DiscordWebSocket.DEFAULT_GATEWAY``
without asking the API. With a custom base we set the former before login and, after login, ask that
base's ``GET /gateway/bot`` for the gateway to connect to, as a sharded client would.
"""

from __future__ import annotations

import logging

import discord
import yarl
from discord.gateway import DiscordWebSocket

log = logging.getLogger(__name__)


def use_rest_base(api_base: str) -> None:
    discord.http.Route.BASE = api_base.rstrip("/")
    log.info("discord api base overridden url=%s", discord.http.Route.BASE)


async def use_gateway_of(http: discord.http.HTTPClient) -> None:
    """Ask the configured API for its gateway and make discord.py connect (and reconnect) there."""
    _shards, url, _limits = await http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    log.info("discord gateway discovered url=%s", url)
