"""Validated configuration, read from the environment and ``.env``.

One pydantic-settings class per section; every field carries the exact environment variable name operators
set (``validation_alias``). :func:`load_settings` builds every section, gathers *all* problems and raises one
:class:`SettingsError` whose message lists each bad setting, what it must be and where to set it. Nothing is
read at import time: ``main()`` calls :func:`load_settings` once and passes the result down.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n.negotiation import supported

DEFAULT_MARKET_BASE_URL = "https://user-api.neverlose.cc/api/market"
DEFAULT_OAUTH_ISSUER = "https://neverlose.cc"


def _blank_to_none(value: object) -> object:
    """Treat ``VAR=`` (present but empty) like an unset optional variable."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < len("http://x"):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _issuer_url(value: str | None) -> str | None:
    """An http(s) URL kept exactly as written (an OpenID issuer is compared character for character)."""
    if value is None:
        return None
    value = value.strip()
    if not value.startswith(("http://", "https://")) or len(value) < len("http://x") or "?" in value or "#" in value:
        raise ValueError("must be an http:// or https:// URL without query or fragment, e.g. https://neverlose.cc")
    return value


def _url_path(value: str) -> str:
    if not value.startswith("/") or " " in value or "?" in value:
        raise ValueError("must be a URL path starting with '/', without spaces or '?'")
    return value


def _networks(value: object) -> object:
    """``10.0.0.2, 172.16.0.0/12`` → networks (one address is a /32 or /128)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        networks = []
        for part in value:
            try:
                networks.append(ipaddress.ip_network(str(part), strict=False))
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network (e.g. 10.0.0.2 or 172.16.0.0/12)") from None
        return networks
    return value


def _id_list(value: object) -> object:
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        return [part for part in parts if part]
    return value


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: object) -> object:
    """``90s``, ``5m``, ``1h``, ``7d`` or a plain number of seconds (what operators write in ``.env``)."""
    if isinstance(value, str):
        text = value.strip().lower()
        unit = _DURATION_UNITS.get(text[-1:]) if text else None
        number = text[:-1] if unit is not None else text
        if not number.isascii() or not number.isdigit():
            raise ValueError("must be a duration such as 90s, 5m, 1h or 7d")
        return timedelta(seconds=int(number) * (unit or 1))
    return value


def format_duration(value: timedelta) -> str:
    """The compact form :func:`_duration` reads back: ``1h``, ``5m``, ``90s``."""
    seconds = int(value.total_seconds())
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"


def _asset_list(value: object) -> object:
    """``USDT, TON,BTC`` → ``["USDT", "TON", "BTC"]``: upper-case letters and digits, at least one."""
    if isinstance(value, str):
        assets = [part.strip().upper() for part in value.split(",") if part.strip()]
        if not assets or not all(a.isascii() and a.isalnum() and len(a) <= 10 for a in assets):
            raise ValueError("must be a comma-separated list of asset codes, e.g. USDT,TON,BTC")
        return assets
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Snowflake = Annotated[int, Field(gt=0, lt=2**64)]
OptionalSnowflake = Annotated[Snowflake | None, BeforeValidator(_blank_to_none)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
OptionalHttpUrl = Annotated[HttpUrl | None, BeforeValidator(_blank_to_none)]


class _Section(BaseSettings):
    """Shared behaviour: read ``.env`` too, ignore unrelated variables, match names exactly."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        populate_by_name=False,
        frozen=True,
    )


class DiscordSettings(_Section):
    token: SecretStr = Field(validation_alias="DISCORD_TOKEN", min_length=1)
    guild_id: OptionalSnowflake = Field(default=None, validation_alias="DISCORD_GUILD_ID")
    api_base: OptionalHttpUrl = Field(default=None, validation_alias="DISCORD_API_BASE")


class MarketSettings(_Section):
    user_id: int = Field(validation_alias="MARKET_USER_ID", gt=0)
    secret: SecretStr = Field(validation_alias="MARKET_SECRET", min_length=1)
    base_url: HttpUrl = Field(default=DEFAULT_MARKET_BASE_URL, validation_alias="MARKET_BASE_URL")


class ServerSettings(_Section):
    host: str = Field(default="0.0.0.0", validation_alias="WEBHOOK_HOST", min_length=1)  # noqa: S104
    port: int = Field(default=8080, validation_alias="WEBHOOK_PORT", ge=0, le=65535)
    webhook_path: Annotated[str, AfterValidator(_url_path)] = Field(
        default="/webhooks/market", validation_alias="WEBHOOK_PATH"
    )
    public_base_url: OptionalHttpUrl = Field(default=None, validation_alias="PUBLIC_BASE_URL")
    trusted_proxies: Annotated[
        list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode, BeforeValidator(_networks)
    ] = Field(default_factory=list, validation_alias="TRUSTED_PROXIES")

    @property
    def public_webhook_url(self) -> str | None:
        if self.public_base_url is None:
            return None
        return self.public_base_url + self.webhook_path


class StorageSettings(_Section):
    database_path: Path = Field(default=Path("data/bot.sqlite3"), validation_alias="DATABASE_PATH")


class ChannelSettings(_Section):
    purchase_channel_id: OptionalSnowflake = Field(default=None, validation_alias="PURCHASE_CHANNEL_ID")
    transfer_channel_id: OptionalSnowflake = Field(default=None, validation_alias="TRANSFER_CHANNEL_ID")
    audit_channel_id: OptionalSnowflake = Field(default=None, validation_alias="AUDIT_CHANNEL_ID")


class StaffSettings(_Section):
    staff_role_ids: Annotated[list[Snowflake], NoDecode, BeforeValidator(_id_list)] = Field(
        default_factory=list, validation_alias="STAFF_ROLE_IDS"
    )
    daily_limit: Decimal = Field(
        default=Decimal("500"), validation_alias="STAFF_DAILY_LIMIT", ge=0, max_digits=12, decimal_places=2
    )
    transfer_approval_threshold: Decimal = Field(
        default=Decimal("100"),
        validation_alias="TRANSFER_APPROVAL_THRESHOLD",
        ge=0,
        max_digits=12,
        decimal_places=2,
    )


class OAuthSettings(_Section):
    client_id: Annotated[str | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, validation_alias="OAUTH_CLIENT_ID"
    )
    client_secret: Annotated[SecretStr | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, validation_alias="OAUTH_CLIENT_SECRET"
    )
    # OpenID Connect issuer: discovery is read from <issuer>/.well-known/openid-configuration and its
    # ``issuer`` must equal this value exactly (so it is kept as written). Blank = the provider publishes no
    # discovery: the three URLs below are then required and no id_token is verified (docs/linking.md).
    issuer: Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_issuer_url)] = Field(
        default=DEFAULT_OAUTH_ISSUER, validation_alias="OAUTH_ISSUER"
    )
    # Overrides of the endpoints discovery names (each one set replaces the discovered value).
    authorize_url: OptionalHttpUrl = Field(default=None, validation_alias="OAUTH_AUTHORIZE_URL")
    token_url: OptionalHttpUrl = Field(default=None, validation_alias="OAUTH_TOKEN_URL")
    userinfo_url: OptionalHttpUrl = Field(default=None, validation_alias="OAUTH_USERINFO_URL")

    @property
    def enabled(self) -> bool:
        return self.client_id is not None


class ShopSettings(_Section):
    """The reseller integration (issue 13): without an integration id every shop feature is off."""

    integration_id: Annotated[int | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, validation_alias="MARKET_INTEGRATION_ID", gt=0
    )
    prices_refresh: Duration = Field(
        default=timedelta(hours=1),
        validation_alias="RESELLER_PRICES_REFRESH",
        ge=timedelta(minutes=5),
        le=timedelta(hours=12),
    )

    @property
    def enabled(self) -> bool:
        return self.integration_id is not None


class CheckoutSettings(_Section):
    """Orders and checkout pages (issue 14)."""

    checkout_path: Annotated[str, AfterValidator(_url_path)] = Field(
        default="/checkout", validation_alias="CHECKOUT_PATH"
    )
    order_ttl: Duration = Field(
        default=timedelta(minutes=60), validation_alias="ORDER_TTL", ge=timedelta(minutes=5), le=timedelta(days=7)
    )
    support_url: OptionalHttpUrl = Field(default=None, validation_alias="SHOP_SUPPORT_URL")


class CryptoPaySettings(_Section):
    """The Crypto Pay payment method (issue 15): enabled when ``CRYPTOPAY_TOKEN`` is set."""

    token: Annotated[SecretStr | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, validation_alias="CRYPTOPAY_TOKEN"
    )
    api_base: HttpUrl = Field(default="https://pay.crypt.bot/api", validation_alias="CRYPTOPAY_API_BASE")
    assets: Annotated[list[str], NoDecode, BeforeValidator(_asset_list)] = Field(
        default_factory=lambda: ["USDT", "TON", "BTC"], validation_alias="CRYPTOPAY_ASSETS"
    )
    webhook_path: Annotated[str, AfterValidator(_url_path)] = Field(
        default="/hooks/cryptopay", validation_alias="CRYPTOPAY_WEBHOOK_PATH"
    )

    @property
    def enabled(self) -> bool:
        return self.token is not None


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as UTC or Europe/Berlin") from None
    return value


class StatsSettings(_Section):
    """``/stats``, the weekly digest and the balance forecast (see docs/stats.md)."""

    timezone: Annotated[str, AfterValidator(_timezone)] = Field(default="UTC", validation_alias="TIMEZONE")
    low_balance_days: Decimal = Field(
        default=Decimal("3"), validation_alias="LOW_BALANCE_DAYS", ge=0, le=365, max_digits=6, decimal_places=2
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class LoggingSettings(_Section):
    level: Annotated[LogLevel, BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)] = Field(
        default="INFO", validation_alias="LOG_LEVEL"
    )


def _bot_locale(value: str) -> str:
    language = supported(value)
    if language is None:
        raise ValueError("must be one of the bot's languages: en or ru")
    return language


class LanguageSettings(_Section):
    """The language of channel posts when the server's is unknown, and of everything with no reader's locale."""

    locale: Annotated[str, AfterValidator(_bot_locale)] = Field(default="en", validation_alias="BOT_LOCALE")


class _SandboxMarket(MarketSettings):
    """Market section for ``sandbox``: the embedded simulator supplies the credentials."""

    user_id: int = Field(default=1, validation_alias="MARKET_USER_ID", gt=0)
    secret: SecretStr = Field(default=SecretStr("sandbox-secret"), validation_alias="MARKET_SECRET", min_length=1)


S = TypeVar("S", bound=_Section)

SECTIONS: dict[str, type[_Section]] = {
    "discord": DiscordSettings,
    "market": MarketSettings,
    "server": ServerSettings,
    "storage": StorageSettings,
    "channels": ChannelSettings,
    "staff": StaffSettings,
    "oauth": OAuthSettings,
    "shop": ShopSettings,
    "checkout": CheckoutSettings,
    "cryptopay": CryptoPaySettings,
    "stats": StatsSettings,
    "language": LanguageSettings,
    "logging": LoggingSettings,
}

SECRET_VARIABLES = frozenset({"DISCORD_TOKEN", "MARKET_SECRET", "OAUTH_CLIENT_SECRET", "CRYPTOPAY_TOKEN"})


@dataclass(frozen=True, slots=True)
class Settings:
    discord: DiscordSettings
    market: MarketSettings
    server: ServerSettings
    storage: StorageSettings
    channels: ChannelSettings
    staff: StaffSettings
    oauth: OAuthSettings
    shop: ShopSettings
    checkout: CheckoutSettings
    cryptopay: CryptoPaySettings
    stats: StatsSettings
    language: LanguageSettings
    logging: LoggingSettings


@dataclass(frozen=True, slots=True)
class SettingProblem:
    variable: str
    message: str


class SettingsError(Exception):
    """Every problem found in the configuration, ready to print as one message."""

    def __init__(self, problems: list[SettingProblem], env_file: Path | None) -> None:
        self.problems = problems
        self.env_file = env_file
        super().__init__(self.render())

    def render(self) -> str:
        where = f"the environment or {self.env_file}" if self.env_file else "the environment"
        lines = [f"Configuration is invalid ({len(self.problems)} problem(s)); set these in {where}:"]
        lines.extend(f"  - {p.variable}: {p.message}" for p in self.problems)
        lines.append("See .env.example and the configuration table in README.md.")
        return "\n".join(lines)


def _describe(error: Mapping[str, Any], variable: str) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing":
        return "is required but not set"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    if variable in SECRET_VARIABLES:
        return f"is invalid: {message}"
    raw = error.get("input")
    if isinstance(raw, str | int | float) and len(str(raw)) <= 80:
        return f"{message} (got {raw!r})"
    return message


def _problems(section: type[_Section], exc: ValidationError) -> list[SettingProblem]:
    problems: list[SettingProblem] = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc", ())
        variable = str(loc[0]) if loc else section.__name__
        if variable in section.model_fields:
            alias = section.model_fields[variable].validation_alias
            variable = str(alias) if alias else variable
        problems.append(SettingProblem(variable, _describe(error, variable)))
    return problems


def load_settings(env_file: Path | None = Path(".env"), *, sandbox: bool = False) -> Settings:
    """Build every section from the environment (and ``env_file`` when it exists).

    Raises one :class:`SettingsError` listing every problem of every section. In ``sandbox`` mode the
    Market credentials are optional: the embedded simulator supplies them.
    """
    file = env_file if env_file is not None and env_file.is_file() else None
    sections: dict[str, Any] = {}
    problems: list[SettingProblem] = []
    for name, cls in SECTIONS.items():
        chosen: type[_Section] = _SandboxMarket if (sandbox and name == "market") else cls
        try:
            sections[name] = chosen(_env_file=file)
        except ValidationError as exc:
            problems.extend(_problems(chosen, exc))
    if problems:
        raise SettingsError(problems, file)
    return Settings(**sections)


def load_section(section: type[S], env_file: Path | None = Path(".env")) -> S:
    """Build one section alone (e.g. ``backup`` needs only the storage section)."""
    file = env_file if env_file is not None and env_file.is_file() else None
    try:
        return section(_env_file=file)
    except ValidationError as exc:
        raise SettingsError(_problems(section, exc), file) from None


def iter_variables() -> list[tuple[str, str, Any, bool]]:
    """(variable, section, default or None, required) for every setting, in declaration order."""
    rows: list[tuple[str, str, Any, bool]] = []
    for section_name, cls in SECTIONS.items():
        for field in cls.model_fields.values():
            alias = str(field.validation_alias)
            required = field.is_required()
            default = None if required else field.get_default(call_default_factory=True)
            rows.append((alias, section_name, default, required))
    return rows
