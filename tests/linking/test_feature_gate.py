"""Linking loads only when configured: without a client id or PUBLIC_BASE_URL the cogs decline, precisely."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import cogs.linking
import cogs.roles_setup
from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.linking.service import linking_disabled_reason
from bot.settings import Settings


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "OAUTH_CLIENT_ID is not set"),
        ({"OAUTH_CLIENT_ID": "abc"}, "PUBLIC_BASE_URL is not set"),
        ({"PUBLIC_BASE_URL": "https://bot.example.com"}, "OAUTH_CLIENT_ID is not set"),
    ],
)
async def test_cogs_decline_with_the_reason(
    make_settings: Callable[..., Settings], env: dict[str, str], expected: str
) -> None:
    settings = make_settings(**env)
    reason = linking_disabled_reason(settings)
    assert reason is not None
    assert expected in reason
    assert "docs/linking.md" in reason
    bot = ResellerBot(settings)
    with pytest.raises(FeatureDisabled, match=expected):
        await cogs.linking.setup(bot)
    with pytest.raises(FeatureDisabled, match=expected):
        await cogs.roles_setup.setup(bot)


def test_enabled_with_client_id_and_public_url(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(OAUTH_CLIENT_ID="abc", PUBLIC_BASE_URL="https://bot.example.com/")
    assert linking_disabled_reason(settings) is None
