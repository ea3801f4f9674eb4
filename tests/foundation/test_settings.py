"""Settings validation: every bad value gets its own line, secrets never appear, .env is read."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.settings import SettingsError, iter_variables, load_settings

REQUIRED = {"DISCORD_TOKEN": "tok", "MARKET_USER_ID": "7", "MARKET_SECRET": "s3cr3t-value"}


def _set(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_empty_environment_names_every_required_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    variables = [p.variable for p in caught.value.problems]
    assert variables == ["DISCORD_TOKEN", "MARKET_USER_ID", "MARKET_SECRET"]
    text = caught.value.render()
    assert "DISCORD_TOKEN: is required but not set" in text
    assert "Traceback" not in text


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, REQUIRED)
    settings = load_settings(None)
    assert settings.market.base_url == "https://user-api.neverlose.cc/api/market"
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 8080
    assert settings.server.webhook_path == "/webhooks/market"
    assert settings.storage.database_path == Path("data/bot.sqlite3")
    assert settings.staff.staff_role_ids == []
    assert settings.logging.level == "INFO"
    assert settings.language.locale == "en"
    assert settings.discord.guild_id is None
    assert settings.oauth.enabled is False


BAD_VALUES = [
    ("MARKET_USER_ID", "abc"),
    ("MARKET_USER_ID", "0"),
    ("MARKET_BASE_URL", "ftp://market"),
    ("DISCORD_GUILD_ID", "not-a-number"),
    ("DISCORD_API_BASE", "discord.local"),
    ("WEBHOOK_PORT", "70000"),
    ("WEBHOOK_PORT", "http"),
    ("WEBHOOK_PATH", "webhooks"),
    ("PUBLIC_BASE_URL", "example.com"),
    ("STAFF_ROLE_IDS", "123,abc"),
    ("STAFF_ROLE_IDS", "-5"),
    ("PURCHASE_CHANNEL_ID", "-1"),
    ("TRANSFER_CHANNEL_ID", "x"),
    ("AUDIT_CHANNEL_ID", "1.5"),
    ("STAFF_DAILY_LIMIT", "-1"),
    ("STAFF_DAILY_LIMIT", "1.234"),
    ("TRANSFER_APPROVAL_THRESHOLD", "lots"),
    ("OAUTH_TOKEN_URL", "nope"),
    ("LOG_LEVEL", "LOUD"),
    ("BOT_LOCALE", "de"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_each_bad_value_gets_its_line(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    _set(monkeypatch, {**REQUIRED, variable: value})
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert [p.variable for p in caught.value.problems] == [variable]
    assert f"  - {variable}: " in caught.value.render()


def test_all_bad_values_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, {"WEBHOOK_PORT": "-1", "LOG_LEVEL": "LOUD", "STAFF_ROLE_IDS": "x"})
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    variables = {p.variable for p in caught.value.problems}
    assert variables == {
        "DISCORD_TOKEN",
        "MARKET_USER_ID",
        "MARKET_SECRET",
        "WEBHOOK_PORT",
        "LOG_LEVEL",
        "STAFF_ROLE_IDS",
    }


def test_secrets_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, {"DISCORD_TOKEN": "", "MARKET_USER_ID": "1", "MARKET_SECRET": "", "OAUTH_CLIENT_SECRET": ""})
    monkeypatch.setenv("DISCORD_TOKEN", "")
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert {p.variable for p in caught.value.problems} == {"DISCORD_TOKEN", "MARKET_SECRET"}
    _set(
        monkeypatch, {"DISCORD_TOKEN": "super-secret-token-xyz", "MARKET_SECRET": "another-secret", "WEBHOOK_PORT": "x"}
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert "super-secret-token-xyz" not in caught.value.render()
    assert "another-secret" not in caught.value.render()
    settings = _valid(monkeypatch)
    assert "s3cr3t-value" not in repr(settings)


def _valid(monkeypatch: pytest.MonkeyPatch) -> object:
    _set(monkeypatch, {**REQUIRED, "WEBHOOK_PORT": "8080"})
    return load_settings(None)


def test_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(
        monkeypatch,
        {
            **REQUIRED,
            "STAFF_ROLE_IDS": " 11, 22 ,",
            "DISCORD_GUILD_ID": "",
            "LOG_LEVEL": "debug",
            "BOT_LOCALE": "ru-RU",
            "MARKET_BASE_URL": "http://127.0.0.1:9/api/market/",
            "STAFF_DAILY_LIMIT": "250.50",
            "PUBLIC_BASE_URL": "https://bot.example.com/",
        },
    )
    settings = load_settings(None)
    assert settings.staff.staff_role_ids == [11, 22]
    assert settings.discord.guild_id is None
    assert settings.logging.level == "DEBUG"
    assert settings.language.locale == "ru"
    assert settings.market.base_url == "http://127.0.0.1:9/api/market"
    assert settings.staff.daily_limit == Decimal("250.50")
    assert settings.server.public_webhook_url == "https://bot.example.com/webhooks/market"


def test_env_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("DISCORD_TOKEN=from-file\nMARKET_USER_ID=3\nMARKET_SECRET=x\nWEBHOOK_PORT=9000\n")
    monkeypatch.setenv("WEBHOOK_PORT", "9100")
    settings = load_settings(env_file)
    assert settings.discord.token.get_secret_value() == "from-file"
    assert settings.server.port == 9100
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "missing.env")
    assert "environment:" in caught.value.render()


def test_env_file_named_in_message(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WEBHOOK_PORT=abc\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file)
    assert str(env_file) in caught.value.render()


def test_sandbox_needs_only_the_discord_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "tok")
    settings = load_settings(None, sandbox=True)
    assert settings.market.user_id > 0
    with pytest.raises(SettingsError):
        load_settings(None)


def test_every_variable_has_a_unique_name() -> None:
    names = [row[0] for row in iter_variables()]
    assert len(names) == len(set(names))
    assert all(name.isupper() for name in names)
