"""Every rule of a price-table entry, with the exact sentence each refusal shows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.market.models import Plan, Product
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.price_table import PriceEntry
from bot.shop.validation import (
    MAX_CURRENCIES,
    ShopInputError,
    check_currency_count,
    currencies_of,
    entry,
    parse_currency,
    parse_method,
    parse_price,
    parse_product_key,
    product_key,
)
from bot.staff.errors import InvalidInput, render_error


def refused(call: object, *args: object) -> ShopInputError:
    with pytest.raises(ShopInputError) as info:
        call(*args)  # type: ignore[operator]
    return info.value


# ---------------------------------------------------------------- currency
@pytest.mark.parametrize("good", ["USD", "EUR", "XMR", "AAA", "ZZZ"])
def test_currency_accepted(good: str) -> None:
    assert parse_currency(good) == good


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ("usd", "'usd'"),
        ("Usd", "'Usd'"),
        ("EURO", "'EURO'"),
        ("EU", "'EU'"),
        ("€", "'€'"),
        ("", "''"),
        (" USD", "' USD'"),
        ("US1", "'US1'"),
        ("ÄBC", "'ÄBC'"),
        ("USD\n", "'USD\\n'"),
        (None, "NoneType"),
        (840, "int"),
    ],
)
def test_currency_refused(bad: object, shown: str) -> None:
    error = refused(parse_currency, bad)
    assert error.field == "currency"
    assert error.message == f"Invalid currency: {shown} must be exactly 3 upper-case Latin letters, e.g. USD or EUR."


# ---------------------------------------------------------------- price
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("30.50", "30.50"),
        ("1", "1"),
        ("0.00000001", "0.00000001"),
        ("12.12345678", "12.12345678"),
        (" 7.5 ", "7.5"),
        ("+3", "3"),
        ("007.10", "7.10"),
        ("999999999999.99999999", "999999999999.99999999"),
        (Decimal("2.50"), "2.50"),
        (Decimal("1E+2"), "100"),
        (5, "5"),
    ],
)
def test_price_accepted(given: object, expected: str) -> None:
    price = parse_price(given)
    assert isinstance(price, Decimal)
    assert format(price, "f") == expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("0", "Invalid price: 0 must be positive (more than 0)."),
        ("0.00000000", "Invalid price: 0.00000000 must be positive (more than 0)."),
        ("-1", "Invalid price: -1 must be positive (more than 0)."),
        ("-0.5", "Invalid price: -0.5 must be positive (more than 0)."),
        ("abc", "Invalid price: 'abc' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("", "Invalid price: '' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("12,50", "Invalid price: '12,50' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("1e3", "Invalid price: '1e3' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("NaN", "Invalid price: 'NaN' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("Infinity", "Invalid price: 'Infinity' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        (".5", "Invalid price: '.5' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("5.", "Invalid price: '5.' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("--5", "Invalid price: '--5' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("١٢", "Invalid price: '١٢' is not a number; write it like 12.50 (digits, '.' for decimals)."),
        ("0.000000001", "Invalid price: 0.000000001 has 9 decimal places; at most 8 are allowed."),
        ("1.123456789", "Invalid price: 1.123456789 has 9 decimal places; at most 8 are allowed."),
        ("1000000000000", "Invalid price: 1000000000000 is too large (at most 12 digits before '.')."),
        (1.5, "Invalid price: must be decimal text such as 12.50 (floats are refused)."),
        (True, "Invalid price: must be decimal text such as 12.50 (floats are refused)."),
        (Decimal("NaN"), "Invalid price: must be a finite number such as 12.50."),
        (Decimal("Infinity"), "Invalid price: must be a finite number such as 12.50."),
        (None, "Invalid price: must be decimal text such as 12.50."),
        (Decimal("-2"), "Invalid price: -2 must be positive (more than 0)."),
    ],
)
def test_price_refused(bad: object, message: str) -> None:
    error = refused(parse_price, bad)
    assert error.field == "price"
    assert error.message == message


def test_price_length_and_sign_boundaries() -> None:
    longest = "+" + "1" * 12 + "." + "1" * 8  # 22 characters: the longest text accepted
    assert len(longest) == 22
    assert parse_price(longest) == Decimal("1" * 12 + "." + "1" * 8)
    error = refused(parse_price, "+" + longest)
    assert error.field == "price"
    assert error.message == "Invalid price: '++111111111111.11111111'... is too long to be a price."
    assert refused(parse_price, "X5").message.startswith("Invalid price: 'X5' is not a number")
    assert refused(parse_price, "5X").message.startswith("Invalid price: '5X' is not a number")
    assert parse_price("7") == Decimal(7)


def test_price_boundaries() -> None:
    assert parse_price("000000000000000001") == Decimal(1)  # leading zeros are not digits of the value
    too_long = "1" * 25
    assert refused(parse_price, too_long).message == f"Invalid price: '{'1' * 24}'... is too long to be a price."
    assert parse_price("1" * 12 + "." + "1" * 8) == Decimal("1" * 12 + "." + "1" * 8)  # exactly 21 characters
    assert parse_price(" " + "1" * 12 + "." + "1" * 8) == Decimal("1" * 12 + "." + "1" * 8)  # a space too
    assert "is too long" in refused(parse_price, "1" * 12 + "." + "1" * 8 + "00").message


# ---------------------------------------------------------------- product keys
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cs2-30", ProductKey(Product.CS2, Plan.DAYS_30)),
        ("cs2", ProductKey(Product.CS2, Plan.DAYS_30)),
        ("csgo-365", ProductKey(Product.CSGO, Plan.DAYS_365)),
        (" csgo-90 ", ProductKey(Product.CSGO, Plan.DAYS_90)),
        ("marketplace", ProductKey.marketplace()),
    ],
)
def test_product_key_accepted(text: str, expected: ProductKey) -> None:
    assert parse_product_key(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dota-30", "Invalid product: unknown product 'dota'; known products: csgo, cs2, or marketplace."),
        ("CS2-30", "Invalid product: unknown product 'CS2'; known products: csgo, cs2, or marketplace."),
        ("cs2-45", "Invalid product: no plan lasts 45 days; choose one of 30, 90, 180, 365."),
        ("cs2-030", "Invalid product: 'cs2-030' is not <product>-<days>, e.g. cs2-30."),
        ("cs2-x", "Invalid product: 'cs2-x' is not <product>-<days>, e.g. cs2-30."),
        ("cs2-", "Invalid product: 'cs2-' is not <product>-<days>, e.g. cs2-30."),
        ("", "Invalid product: unknown product ''; known products: csgo, cs2, or marketplace."),
    ],
)
def test_product_key_refused(text: str, message: str) -> None:
    error = refused(parse_product_key, text)
    assert error.field == "product"
    assert error.message == message


def test_product_and_plan_from_command_options() -> None:
    assert product_key("cs2", 90) == ProductKey(Product.CS2, Plan.DAYS_90)
    assert product_key(" CSGO ", 180) == ProductKey(Product.CSGO, Plan.DAYS_180)
    assert product_key("marketplace", None) == ProductKey.marketplace()
    assert product_key("Marketplace", None).is_marketplace
    assert refused(product_key, "marketplace", 30).message == (
        "Invalid plan: the marketplace (price of 1 NLE) has no plan; leave plan empty."
    )
    assert refused(product_key, "cs2", None).message == "Invalid plan: choose the plan of CS2: 30, 90, 180, 365 days."
    assert refused(product_key, "cs2", 45).message == (
        "Invalid plan: CS2 has no 45-day plan; choose 30, 90, 180, 365 days."
    )
    assert refused(product_key, "dota", 30).message == (
        "Invalid product: 'dota' is not a product; choose csgo, cs2 or marketplace."
    )
    assert refused(product_key, "dota", 30).field == "product"
    assert refused(product_key, "cs2", None).field == "plan"


# ---------------------------------------------------------------- method
def test_method() -> None:
    assert parse_method(None) is None
    assert parse_method("") is None
    assert parse_method(" any ") is None
    assert parse_method("all") is None
    assert parse_method("manual") is PaymentMethod.MANUAL
    assert parse_method(" CryptoPay ") is PaymentMethod.CRYPTOPAY
    assert parse_method(PaymentMethod.MANUAL) is PaymentMethod.MANUAL
    error = refused(parse_method, "paypal")
    assert error.field == "method"
    assert error.message == (
        "Invalid method: 'paypal' is not a payment method; choose manual, cryptopay, or leave it empty for all."
    )
    assert refused(parse_method, 3).field == "method"


# ---------------------------------------------------------------- at most 3 currencies
def table(*rows: tuple[str, str, str | None]) -> list[PriceEntry]:
    return [PriceEntry(k, c, Decimal("1"), PaymentMethod(m) if m else None) for k, c, m in rows]


def test_currency_count() -> None:
    three = table(("cs2-30", "EUR", None), ("cs2-30", "USD", "manual"), ("cs2-30", "RUB", "cryptopay"))
    assert MAX_CURRENCIES == 3
    assert currencies_of(three, "cs2-30") == {"EUR", "USD", "RUB"}
    assert currencies_of(three, ProductKey(Product.CS2, Plan.DAYS_30)) == {"EUR", "USD", "RUB"}
    assert currencies_of(three, "cs2-90") == set()
    check_currency_count(three, "cs2-30", "EUR")  # a used currency is fine
    check_currency_count(three, "cs2-90", "GBP")  # another product is counted apart
    check_currency_count(three[:2], "cs2-30", "GBP")  # a third one is fine
    error = refused(check_currency_count, three, "cs2-30", "GBP")
    assert error.field == "currency"
    assert error.message == (
        "Invalid currency: cs2-30 already has 3 currencies (EUR, RUB, USD); Neverlose accepts at most 3 per "
        "product. Remove one first."
    )


def test_entry_and_rendering() -> None:
    assert entry("cs2", "EUR", "30.50", "manual") == PriceEntry("cs2-30", "EUR", Decimal("30.50"), PaymentMethod.MANUAL)
    assert entry("marketplace", "USD", "1.15") == PriceEntry("marketplace", "USD", Decimal("1.15"), None)
    error = refused(entry, "cs2-30", "eur", "1")
    assert isinstance(error, InvalidInput)
    assert render_error(error).text == error.message  # the tree shows the sentence as it is
