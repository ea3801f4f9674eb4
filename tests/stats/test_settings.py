"""TIMEZONE and LOW_BALANCE_DAYS."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.settings import Settings, SettingsError


def test_defaults(make_settings: Callable[..., Settings]) -> None:
    stats = make_settings().stats
    assert stats.timezone == "UTC"
    assert stats.zone.key == "UTC"
    assert stats.low_balance_days == Decimal("3")


def test_values(make_settings: Callable[..., Settings]) -> None:
    stats = make_settings(TIMEZONE="Europe/Berlin", LOW_BALANCE_DAYS="1.5").stats
    assert stats.zone.key == "Europe/Berlin"
    assert stats.low_balance_days == Decimal("1.5")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE: must be an IANA time zone name such as UTC or Europe/Berlin"),
        ({"TIMEZONE": "../etc/passwd"}, "TIMEZONE: must be an IANA time zone name"),
        ({"LOW_BALANCE_DAYS": "-1"}, "LOW_BALANCE_DAYS: Input should be greater than or equal to 0"),
    ],
)
def test_bad_values(make_settings: Callable[..., Settings], variables: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        make_settings(**variables)
    assert message in str(caught.value)
