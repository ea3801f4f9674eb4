"""Slash commands in Russian: every command, group, option and choice the bot syncs carries a Russian
localization from the catalogs, within Discord's limits (checked by the fake Discord as it receives the sync)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.core import ResellerBot
from tests.fake_discord import FakeDiscord
from tests.linking.fake_idp import FakeIdP, running_fake_idp
from tests.plugins.bot import StartBot


@pytest.fixture
async def idp() -> AsyncIterator[FakeIdP]:
    async with running_fake_idp() as fake:
        yield fake


@pytest.fixture
async def every_feature(start_bot: StartBot, idp: FakeIdP, unused_tcp_port: int) -> ResellerBot:
    """The bot with every cog loaded: shop and orders, Crypto Pay, linking, sandbox."""
    bot = await start_bot(
        sandbox=True,
        MARKET_INTEGRATION_ID="1",
        WEBHOOK_PORT=str(unused_tcp_port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{unused_tcp_port}",
        OAUTH_CLIENT_ID=idp.client_id,
        OAUTH_ISSUER=idp.url,
        CRYPTOPAY_TOKEN="1:test",
    )
    assert bot.extension_report.declined == {}
    return bot


def _walk(payload: dict[str, Any], path: str, found: list[tuple[str, dict[str, Any]]]) -> None:
    found.append((path, payload))
    for option in payload.get("options") or []:
        _walk(option, f"{path} {option['name']}", found)


def _synced(fake: FakeDiscord) -> list[dict[str, Any]]:
    commands = [c for c in fake.commands if c.get("guild_id") is not None]
    assert commands, "the bot synced its commands to the guild"
    return commands


async def test_every_command_option_and_choice_has_russian(
    every_feature: ResellerBot, fake_discord: FakeDiscord
) -> None:
    missing: list[str] = []
    entries: list[tuple[str, dict[str, Any]]] = []
    for command in _synced(fake_discord):
        _walk(command, "/" + command["name"], entries)
    for path, item in entries:
        if "ru" not in (item.get("name_localizations") or {}):
            missing.append(f"{path}: name")
        if "ru" not in (item.get("description_localizations") or {}):
            missing.append(f"{path}: description")
        for choice in item.get("choices") or []:
            if "ru" not in (choice.get("name_localizations") or {}):
                missing.append(f"{path}: choice {choice['name']}")
    assert missing == []
    assert len(entries) > 100
    fake_discord.assert_no_violations()  # names, lengths and locales checked as the sync arrived


async def test_russian_names_are_unique_among_siblings(every_feature: ResellerBot, fake_discord: FakeDiscord) -> None:
    def check(items: list[dict[str, Any]], where: str) -> None:
        names = [item["name_localizations"]["ru"] for item in items]
        assert len(set(names)) == len(names), where
        for item in items:
            check(item.get("options") or [], f"{where} {item['name']}")

    check(_synced(fake_discord), "")
    gift = next(c for c in _synced(fake_discord) if c["name"] == "gift")
    assert gift["name_localizations"]["ru"] == "подарить"
    plan = next(o for o in gift["options"] if o["name"] == "plan")
    assert [c["name_localizations"]["ru"] for c in plan["choices"]] == ["30 дней", "90 дней", "180 дней", "365 дней"]
    # English clients get the commands' own text: no en-US / en-GB localizations are sent.
    assert set(gift["name_localizations"]) == {"ru"}


async def test_a_localization_breaking_discords_rules_is_refused_by_the_fake(fake_discord: FakeDiscord) -> None:
    """The checks above can fail: the fake answers 400 to a localization Discord would refuse, and records it."""
    import aiohttp

    url = f"{fake_discord.api_base}/applications/{fake_discord.application_id}/commands"
    body = [{"name": "gift", "description": "Gift", "name_localizations": {"ru": "Подарить подписку"}}]
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, json=body, headers={"Authorization": f"Bot {fake_discord.token}"}) as response,
    ):
        assert response.status == 400
    assert [v.error for v in fake_discord.violations] != []
    fake_discord.violations.clear()
