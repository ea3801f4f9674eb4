"""The shop foundation: catalogue keys, method_prices, the price table repository, and the settings parsers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from bot.market.models import Plan, Product
from bot.settings import (
    CryptoPaySettings,
    ShopSettings,
    _asset_list,
    _duration,
    format_duration,
)
from bot.shop.catalog import MARKETPLACE, PaymentMethod, ProductKey, all_product_keys
from bot.shop.price_table import PriceEntry, PriceTable, method_prices
from bot.storage import Database

M, C = PaymentMethod.MANUAL, PaymentMethod.CRYPTOPAY


# ---------------------------------------------------------------- catalogue
def test_product_keys() -> None:
    keys = all_product_keys()
    assert [str(k) for k in keys] == [
        "csgo-30",
        "csgo-90",
        "csgo-180",
        "csgo-365",
        "cs2-30",
        "cs2-90",
        "cs2-180",
        "cs2-365",
        "marketplace",
    ]
    assert ProductKey.parse("cs2") == ProductKey(Product.CS2, Plan.DAYS_30)
    assert ProductKey.parse("csgo-180") == ProductKey.for_plan(Product.CSGO, Plan.DAYS_180)
    assert ProductKey.parse(MARKETPLACE).is_marketplace
    assert not ProductKey.parse("cs2").is_marketplace
    assert ProductKey.parse("cs2-90").label == "CS2, 90 days"
    assert ProductKey.marketplace().label == "NLE (market balance)"
    assert str(ProductKey.marketplace()) == "marketplace"
    for bad, message in [
        ("nope-30", "unknown product 'nope'"),
        ("cs2-7", "no plan lasts 7 days"),
        ("cs2-+30", "is not <product>-<days>"),
        ("cs2-٣٠", "is not <product>-<days>"),
        ("cs2-30-1", "is not <product>-<days>"),
    ]:
        with pytest.raises(ValueError, match=message):
            ProductKey.parse(bad)
    assert M.label == "Manual payment"
    assert C.label == "Crypto Pay"


# ---------------------------------------------------------------- method_prices
def test_method_prices() -> None:
    entries = [
        PriceEntry("cs2-30", "EUR", Decimal("10")),
        PriceEntry("cs2-30", "USD", Decimal("11")),
        PriceEntry("cs2-30", "EUR", Decimal("9"), C),
        PriceEntry("cs2-30", "XMR", Decimal("0.1"), C),
        PriceEntry("cs2-90", "EUR", Decimal("25")),
    ]
    assert method_prices(entries, "cs2-30", [M, C]) == {
        M: {"EUR": Decimal("10"), "USD": Decimal("11")},
        C: {"EUR": Decimal("9"), "USD": Decimal("11"), "XMR": Decimal("0.1")},
    }
    assert method_prices(entries, ProductKey(Product.CS2, Plan.DAYS_90), [C]) == {C: {"EUR": Decimal("25")}}
    assert method_prices(entries, "cs2-180", [M, C]) == {}
    assert method_prices([PriceEntry("cs2-30", "EUR", Decimal("1"), C)], "cs2-30", [M, C]) == {
        C: {"EUR": Decimal("1")}
    }  # a method without a price is left out
    assert method_prices(entries, "cs2-30", []) == {}


# ---------------------------------------------------------------- repository
async def test_price_table_repository(shop_db: Database) -> None:
    table = PriceTable(shop_db)
    assert await table.entries() == []
    generic = PriceEntry("cs2-30", "EUR", Decimal("30.50"))
    crypto = PriceEntry("cs2-30", "EUR", Decimal("31.00"), C)
    await table.put(generic, updated_by=7)
    await table.put(crypto, updated_by=7)
    assert await table.get("cs2-30", "EUR", None) == generic
    assert await table.get("cs2-30", "EUR", C) == crypto
    assert await table.get("cs2-30", "EUR", M) is None
    assert (await table.get("cs2-30", "EUR", None)).price.as_tuple() == Decimal("30.50").as_tuple()  # type: ignore[union-attr]
    await table.put(PriceEntry("cs2-30", "EUR", Decimal("29.99")), updated_by=8)
    assert await table.get("cs2-30", "EUR", None) == PriceEntry("cs2-30", "EUR", Decimal("29.99"))
    row = await shop_db.fetchone("SELECT price, updated_by, method FROM shop_prices WHERE method = ''")
    assert row is not None
    assert (row["price"], row["updated_by"], row["method"]) == ("29.99", 8, "")
    await table.put(PriceEntry("csgo-90", "USD", Decimal("0.00000001")), updated_by=None)
    assert [e.product_key for e in await table.entries()] == ["cs2-30", "cs2-30", "csgo-90"]
    assert await table.remove("cs2-30", "EUR", C) is True
    assert await table.remove("cs2-30", "EUR", C) is False
    assert await table.get("cs2-30", "EUR", C) is None
    replacement = [PriceEntry("marketplace", "USD", Decimal("1.15")), PriceEntry("cs2-90", "EUR", Decimal("2"), M)]
    await table.replace_all(replacement, updated_by=9)
    assert await table.entries() == [replacement[1], replacement[0]]
    await table.replace_all([], updated_by=9)
    assert await table.entries() == []


async def test_price_table_constraints(shop_db: Database) -> None:
    table = PriceTable(shop_db)
    with pytest.raises(Exception, match="CHECK constraint"):
        await table.put(PriceEntry("cs2-30", "eur", Decimal("1")), updated_by=None)
    await table.put(PriceEntry("cs2-30", "EUR", Decimal("1")), updated_by=None)
    with pytest.raises(Exception, match="CHECK constraint"):
        await table.replace_all(
            [PriceEntry("cs2-90", "USD", Decimal("1")), PriceEntry("cs2-30", "EURO", Decimal("1"))], updated_by=None
        )
    assert await table.entries() == [PriceEntry("cs2-30", "EUR", Decimal("1"))]  # all or nothing


# ---------------------------------------------------------------- settings parsers
@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1h", 3600), ("7d", 604800), ("120", 120), (" 2H ", 7200), ("0", 0)],
)
def test_duration_parser(text: str, seconds: int) -> None:
    assert _duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "h", "1.5h", "-5m", "5 m", "5w", "one", "١h"])
def test_duration_parser_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="must be a duration such as 90s, 5m, 1h or 7d"):
        _duration(bad)


def test_duration_passthrough_and_format() -> None:
    assert _duration(timedelta(minutes=3)) == timedelta(minutes=3)
    assert _duration(60) == 60
    assert format_duration(timedelta(hours=1)) == "1h"
    assert format_duration(timedelta(minutes=5)) == "5m"
    assert format_duration(timedelta(seconds=90)) == "90s"
    assert format_duration(timedelta(days=2)) == "2d"
    assert format_duration(timedelta(hours=36)) == "36h"
    assert format_duration(timedelta(0)) == "0s"
    for value in ("90s", "5m", "1h", "7d", "36h"):
        parsed = _duration(value)
        assert isinstance(parsed, timedelta)
        assert format_duration(parsed) == value


def test_asset_list_parser() -> None:
    assert _asset_list("USDT, ton,BTC") == ["USDT", "TON", "BTC"]
    assert _asset_list("usdt,,") == ["USDT"]
    assert _asset_list(["X"]) == ["X"]
    assert _asset_list("ABCDEFGHIJ") == ["ABCDEFGHIJ"]
    for bad in ("", " , ", "US-DT", "ABCDEFGHIJK", "ÜSDT"):
        with pytest.raises(ValueError, match="comma-separated list of asset codes"):
            _asset_list(bad)


def test_shop_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    shop = ShopSettings(_env_file=None)  # type: ignore[call-arg]
    assert shop.integration_id is None
    assert not shop.enabled
    assert shop.prices_refresh == timedelta(hours=1)
    monkeypatch.setenv("MARKET_INTEGRATION_ID", "100")
    monkeypatch.setenv("RESELLER_PRICES_REFRESH", "12h")
    shop = ShopSettings(_env_file=None)  # type: ignore[call-arg]
    assert shop.enabled
    assert shop.integration_id == 100
    assert shop.prices_refresh == timedelta(hours=12)
    for name, value in [
        ("RESELLER_PRICES_REFRESH", "4m"),
        ("RESELLER_PRICES_REFRESH", "13h"),
        ("MARKET_INTEGRATION_ID", "0"),
        ("MARKET_INTEGRATION_ID", "abc"),
    ]:
        monkeypatch.setenv("MARKET_INTEGRATION_ID", "100")
        monkeypatch.setenv("RESELLER_PRICES_REFRESH", "1h")
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError):
            ShopSettings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("RESELLER_PRICES_REFRESH", "5m")
    monkeypatch.setenv("MARKET_INTEGRATION_ID", " ")
    shop = ShopSettings(_env_file=None)  # type: ignore[call-arg]
    assert shop.prices_refresh == timedelta(minutes=5)
    assert shop.integration_id is None
    monkeypatch.setenv("CRYPTOPAY_ASSETS", "ton, usdt")
    assert CryptoPaySettings(_env_file=None).assets == ["TON", "USDT"]  # type: ignore[call-arg]
    assert not CryptoPaySettings(_env_file=None).enabled  # type: ignore[call-arg]
