"""Shared fixtures. Area fixtures live in ``tests/plugins/`` and are registered here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from bot.settings import Settings, iter_variables, load_settings

pytest_plugins: list[str] = [
    "tests.plugins.market",
    "tests.plugins.fake_discord",
    "tests.plugins.bot",
    "tests.plugins.browser",
    "tests.plugins.wall_clock",
]

SETTING_VARIABLES = [row[0] for row in iter_variables()]

# Mutation testing (docs/testing.md) runs the tests through mutmut's trampolines on shared cores: no
# per-example deadline there (pyproject: [tool.mutmut] pytest_add_cli_args).
settings.register_profile("mutmut", deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's own settings or .env: unset every variable, run in a temp folder."""
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Settings]:
    """Build real Settings from environment variables (defaults: a valid minimal configuration)."""

    def factory(**overrides: str) -> Settings:
        values = {
            "DISCORD_TOKEN": "test-token",
            "MARKET_USER_ID": "1",
            "MARKET_SECRET": "key",
            "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": "0",
        }
        values.update(overrides)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return load_settings(None)

    return factory
