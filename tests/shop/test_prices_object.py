"""The prices object: one price when every enabled method charges the same, else [min, max]; exact text."""

from __future__ import annotations

import json
from decimal import Decimal

from bot.shop.catalog import PaymentMethod
from bot.shop.price_table import PriceEntry
from bot.shop.prices_object import derive_prices, describe, encode_prices, key_order, price_text, to_json_object

M, C = PaymentMethod.MANUAL, PaymentMethod.CRYPTOPAY
BOTH = [M, C]
D = Decimal


def e(key: str, currency: str, price: str, method: PaymentMethod | None = None) -> PriceEntry:
    return PriceEntry(key, currency, D(price), method)


def test_one_price_for_every_method() -> None:
    assert derive_prices([e("cs2-30", "EUR", "30.50")], BOTH) == {"cs2-30": {"EUR": D("30.50")}}
    assert derive_prices([e("cs2-30", "EUR", "30.50")], [M]) == {"cs2-30": {"EUR": D("30.50")}}


def test_range_over_enabled_methods() -> None:
    entries = [e("cs2-30", "EUR", "30.50"), e("cs2-30", "EUR", "31.30", C)]
    assert derive_prices(entries, BOTH) == {"cs2-30": {"EUR": (D("30.50"), D("31.30"))}}
    assert derive_prices(entries, [M]) == {"cs2-30": {"EUR": D("30.50")}}  # crypto is off: no range
    assert derive_prices(entries, [C]) == {"cs2-30": {"EUR": D("31.30")}}
    cheaper = [e("cs2-30", "EUR", "30.50"), e("cs2-30", "EUR", "29.99", C)]
    assert derive_prices(cheaper, BOTH) == {"cs2-30": {"EUR": (D("29.99"), D("30.50"))}}
    both_specific = [e("cs2-30", "EUR", "9", M), e("cs2-30", "EUR", "10", C), e("cs2-30", "EUR", "50")]
    assert derive_prices(both_specific, BOTH) == {"cs2-30": {"EUR": (D("9"), D("10"))}}  # generic overridden


def test_same_price_through_specific_entries_is_one_price() -> None:
    entries = [e("cs2-30", "EUR", "10", M), e("cs2-30", "EUR", "10.00", C)]
    assert derive_prices(entries, BOTH) == {"cs2-30": {"EUR": D("10")}}
    assert encode_prices(derive_prices(entries, BOTH)) == '{"cs2-30":{"EUR":"10"}}'  # the first method's text


def test_method_only_currency_and_disabled_methods() -> None:
    entries = [e("cs2-30", "EUR", "30"), e("cs2-30", "XMR", "0.162", C)]
    assert derive_prices(entries, BOTH) == {"cs2-30": {"EUR": D("30"), "XMR": D("0.162")}}
    assert derive_prices(entries, [M]) == {"cs2-30": {"EUR": D("30")}}
    only_crypto = [e("csgo-90", "USD", "5", C)]
    assert derive_prices(only_crypto, [M]) == {}  # a product without any enabled price is left out
    assert derive_prices(entries, []) == {}
    assert derive_prices([], BOTH) == {}
    assert derive_prices(entries, [M, M]) == {"cs2-30": {"EUR": D("30")}}  # duplicates ignored


def test_stable_order_and_exact_text() -> None:
    entries = [
        e("marketplace", "USD", "1.15"),
        e("marketplace", "EUR", "1.1"),
        e("cs2-30", "USD", "31.82"),
        e("cs2-30", "USD", "32.65", C),
        e("cs2-30", "EUR", "30.50"),
        e("cs2-30", "EUR", "31.30", C),
        e("csgo-180", "XMR", "0.162"),
        e("csgo-180", "USD", "14.71"),
        e("csgo-180", "EUR", "14.10"),
    ]
    text = encode_prices(derive_prices(entries, BOTH))
    assert text == (
        '{"csgo-180":{"EUR":"14.10","USD":"14.71","XMR":"0.162"},'
        '"cs2-30":{"EUR":["30.50","31.30"],"USD":["31.82","32.65"]},'
        '"marketplace":{"EUR":"1.1","USD":"1.15"}}'
    )
    assert encode_prices(derive_prices(reversed(entries), BOTH)) == text  # input order does not matter
    assert list(derive_prices(entries, BOTH)) == ["csgo-180", "cs2-30", "marketplace"]  # catalogue order
    assert json.loads(text)["cs2-30"]["EUR"] == ["30.50", "31.30"]


def test_key_order_is_the_catalogue_order() -> None:
    keys = ["marketplace", "cs2-365", "cs2-30", "csgo-365", "csgo-30", "cs2-90", "zzz"]
    assert sorted(keys, key=key_order) == ["csgo-30", "csgo-365", "cs2-30", "cs2-90", "cs2-365", "marketplace", "zzz"]
    assert key_order("csgo-30") == (0, "csgo-30")
    assert key_order("marketplace") == (8, "marketplace")
    assert key_order("other") == (9, "other")


def test_texts() -> None:
    assert price_text(D("1E+2")) == "100"
    assert price_text(D("0.00000001")) == "0.00000001"
    assert price_text(D("30.50")) == "30.50"
    assert describe(D("2.5")) == "2.5"
    assert describe((D("1"), D("2.00"))) == "1–2.00"
    assert to_json_object({"marketplace": {"USD": D("1")}, "cs2-30": {"EUR": (D("1"), D("2"))}}) == {
        "cs2-30": {"EUR": ["1", "2"]},
        "marketplace": {"USD": "1"},
    }
    assert list(to_json_object({"marketplace": {"USD": D("1")}, "cs2-30": {"EUR": D("1")}})) == [
        "cs2-30",
        "marketplace",
    ]
    assert list(to_json_object({"cs2-30": {"USD": D("1"), "EUR": D("1")}})["cs2-30"]) == ["EUR", "USD"]
    assert encode_prices({"cs2-30": {"EUR": D("1")}}) == '{"cs2-30":{"EUR":"1"}}'
    assert encode_prices({}) == "{}"
