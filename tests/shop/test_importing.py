"""Export and import in Neverlose's prices format: round trip, the diff preview, and every rejection."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.shop.catalog import PaymentMethod
from bot.shop.importing import (
    EXPORT_FILENAME,
    MAX_IMPORT_BYTES,
    ImportRejected,
    describe_entry,
    diff,
    export_json,
    export_methods,
    parse_import,
)
from bot.shop.price_table import PriceEntry
from bot.staff.errors import InvalidInput

M, C = PaymentMethod.MANUAL, PaymentMethod.CRYPTOPAY
D = Decimal


def e(key: str, currency: str, price: str, method: PaymentMethod | None = None) -> PriceEntry:
    return PriceEntry(key, currency, D(price), method)


TABLE = [
    e("csgo-180", "EUR", "14.10"),
    e("csgo-180", "USD", "14.71"),
    e("cs2-30", "EUR", "30.50"),
    e("cs2-30", "EUR", "31.30", C),
    e("marketplace", "EUR", "1.1"),
]


def rejected(
    raw: bytes, current: list[PriceEntry] | None = None, methods: list[PaymentMethod] | None = None
) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        parse_import(raw, current or [], [M, C] if methods is None else methods)
    assert isinstance(info.value, InvalidInput)
    assert info.value.message.startswith(f"Nothing was imported: the file has {len(info.value.problems)} problem(s).")
    return info.value.problems


def test_export_is_neverloses_format() -> None:
    data = export_json(TABLE, [M, C])
    assert EXPORT_FILENAME == "neverlose-prices.json"
    assert data.endswith(b"}\n")
    assert json.loads(data) == {
        "csgo-180": {"EUR": "14.10", "USD": "14.71"},
        "cs2-30": {"EUR": ["30.50", "31.30"]},
        "marketplace": {"EUR": "1.1"},
    }
    assert data == export_json(list(reversed(TABLE)), [M, C])
    assert list(json.loads(data)) == ["csgo-180", "cs2-30", "marketplace"]
    assert json.loads(export_json(TABLE, [M])) == {
        "csgo-180": {"EUR": "14.10", "USD": "14.71"},
        "cs2-30": {"EUR": "30.50"},
        "marketplace": {"EUR": "1.1"},
    }
    assert json.loads(export_json(TABLE, [])) == json.loads(data)  # no method yet: all of them
    assert export_methods([]) == [M, C]
    assert export_methods([C]) == [C]
    assert export_json([], [M]) == b"{}\n"


@pytest.mark.parametrize("methods", [[M, C], [M], [C], []])
def test_round_trip_changes_nothing(methods: list[PaymentMethod]) -> None:
    plan = parse_import(export_json(TABLE, methods), TABLE, methods)
    assert plan.unchanged
    assert sorted(plan.entries, key=str) == sorted(TABLE, key=str)
    assert plan.preview_lines() == []
    assert plan.summary() == "0 added, 0 changed, 0 removed"


def test_import_plan_and_preview() -> None:
    raw = json.dumps(
        {
            "csgo-180": {"EUR": "14.10", "USD": "15"},  # EUR kept, USD changed
            "cs2-30": {"EUR": ["30.50", "31.30"], "USD": "33"},  # the range kept as it is, USD added
            "cs2": {"XMR": "0.1"},
        }
    ).encode()
    with pytest.raises(ImportRejected) as info:
        parse_import(raw, TABLE, [M, C])
    assert info.value.problems == ["`cs2`: the same product as `cs2-30` (both mean cs2-30)."]
    raw = json.dumps(
        {
            "csgo-180": {"EUR": "14.10", "USD": "15"},
            "cs2-30": {"EUR": ["30.50", "31.30"], "USD": "33"},
            "csgo": {"XMR": "0.00000001"},
        }
    ).encode()
    plan = parse_import(raw, TABLE, [M, C])
    assert plan.base == TABLE
    assert plan.preview_lines() == [
        "+ csgo-30 XMR 0.00000001 (every method)",
        "+ cs2-30 USD 33 (every method)",
        "~ csgo-180 USD 14.71 (every method) → 15",
        "- marketplace EUR 1.1 (every method)",
    ]
    assert plan.summary() == "2 added, 1 changed, 1 removed"
    assert plan.entries == [
        e("csgo-30", "XMR", "0.00000001"),
        e("csgo-180", "EUR", "14.10"),
        e("csgo-180", "USD", "15"),
        e("cs2-30", "EUR", "30.50"),
        e("cs2-30", "EUR", "31.30", C),
        e("cs2-30", "USD", "33"),
    ]
    assert not plan.unchanged


def test_a_new_single_price_replaces_per_method_prices() -> None:
    plan = parse_import(b'{"cs2-30": {"EUR": "30"}}', TABLE, [M, C])
    assert plan.entries == [e("cs2-30", "EUR", "30")]
    assert plan.changed == [(e("cs2-30", "EUR", "30.50"), e("cs2-30", "EUR", "30"))]
    assert e("cs2-30", "EUR", "31.30", C) in plan.removed
    plan = parse_import(b'{"cs2-30": {"EUR": "30.5"}}', [e("cs2-30", "EUR", "30.50")], [M])
    assert plan.changed  # the text differs: shown as a change so the file is what is stored


def test_same_single_price_keeps_method_entries() -> None:
    table = [e("cs2-30", "EUR", "10", M), e("cs2-30", "EUR", "10", C)]
    plan = parse_import(b'{"cs2-30": {"EUR": "10"}}', table, [M, C])
    assert plan.unchanged
    assert plan.entries == [table[1], table[0]]  # stable order: key, currency, method name


def test_export_exact_bytes() -> None:
    assert export_json([e("cs2-30", "EUR", "1"), e("cs2-30", "USD", "2", C)], [M, C]) == (
        b'{\n  "cs2-30": {\n    "EUR": "1",\n    "USD": "2"\n  }\n}\n'
    )


def test_a_different_range_is_refused_even_with_the_same_low() -> None:
    problems = rejected(b'{"cs2-30": {"EUR": ["30.50", "32"]}}', TABLE)
    assert problems == [
        "`cs2-30 → EUR`: a range can only be imported as exported (it stands for per-method prices); give one "
        "price, or set per-method prices with `/shop price set … method:`."
    ]
    problems = rejected(b'{"cs2-30": {"EUR": ["30", "31.30"]}}', TABLE)
    assert len(problems) == 1


def test_problems_after_a_duplicate_are_listed_too() -> None:
    problems = rejected(b'{"cs2-30": {"EUR": "1"}, "cs2": {"EUR": "1"}, "csgo-30": {"EUR": "0"}}')
    assert problems == [
        "`cs2`: the same product as `cs2-30` (both mean cs2-30).",
        "`csgo-30 → EUR`: 0 must be positive (more than 0).",
    ]


def test_value_errors_name_the_price_field() -> None:
    from bot.shop.importing import _value
    from bot.shop.validation import ShopInputError

    for bad in (1, ["1"], ["2", "1"], None):
        with pytest.raises(ShopInputError) as info:
            _value(bad)
        assert info.value.field == "price"
    assert _value(["1", "2"]) == (D("1"), D("2"))
    assert _value("3.5") == D("3.5")


def test_describe_and_diff() -> None:
    assert describe_entry(e("cs2-30", "EUR", "1")) == "cs2-30 EUR 1 (every method)"
    assert describe_entry(e("cs2-30", "EUR", "1", C)) == "cs2-30 EUR 1 (cryptopay)"
    plan = diff([e("cs2-30", "EUR", "1")], [e("cs2-30", "EUR", "1.0")])
    assert plan.changed == [(e("cs2-30", "EUR", "1"), e("cs2-30", "EUR", "1.0"))]
    assert diff([], []).unchanged


def test_file_level_rejections() -> None:
    assert rejected(b"{" * (MAX_IMPORT_BYTES + 1)) == [
        "the file is 65,537 bytes; at most 65,536 bytes (64 KiB) are accepted."
    ]
    assert rejected(b"not json") == ["the file cannot be read: it is not valid JSON."]
    assert rejected(b"") == ["the file cannot be read: it is not valid JSON."]
    # nested deeper than Python's parser goes, within 64 KiB: refused, not a RecursionError (a traceback)
    assert rejected(b"[" * 30_000 + b"]" * 30_000) == ["the file cannot be read: it is not valid JSON."]
    assert rejected(b'{"a":' * 10_000 + b"1" + b"}" * 10_000) == ["the file cannot be read: it is not valid JSON."]
    assert rejected(b"\xff\xfe{}") == ["the file is not UTF-8 text; export the table with `/shop prices export`."]
    assert rejected(b'{"cs2-30": {"EUR": NaN}}') == ["the file cannot be read: NaN is not a price."]
    assert rejected(b'{"cs2-30": {"EUR": "1"}, "cs2-30": {"EUR": "2"}}') == [
        "the file cannot be read: the name 'cs2-30' appears twice in one object."
    ]
    for not_object in (b"[]", b'"x"', b"1", b"null"):
        assert rejected(not_object) == ['the file must hold one JSON object such as {"cs2-30": {"EUR": "30.50"}}.']
    exactly = b'{"cs2-30": {"EUR": "1"}}'
    padded = exactly + b" " * (MAX_IMPORT_BYTES - len(exactly))
    assert len(padded) == MAX_IMPORT_BYTES
    assert parse_import(padded, [], [M]).added == [e("cs2-30", "EUR", "1")]  # exactly 64 KiB is fine
    assert parse_import(b"\xef\xbb\xbf" + exactly, [], [M]).added  # a UTF-8 BOM is fine


def test_every_wrong_entry_is_listed_and_nothing_imported() -> None:
    document = {
        "dota-30": {"EUR": "1"},
        "cs2-45": {"EUR": "1"},
        "csgo-30": {"eur": "1", "EURO": "2", "€": "3"},
        "csgo-90": {"EUR": "0", "USD": "-1", "GBP": "abc"},
        "csgo-180": {"EUR": "1.123456789", "USD": 12.5, "GBP": None},
        "csgo-365": {"EUR": ["2", "1"], "USD": ["1"], "GBP": ["1", 2]},
        "cs2-90": {"EUR": "1", "USD": "1", "GBP": "1", "XMR": "1"},
        "cs2-180": {},
        "cs2-365": ["EUR", "1"],
        "marketplace": {"EUR": ["1", "1"]},
        "cs2-30": {"EUR": ["1", "2"]},
    }
    problems = rejected(json.dumps(document).encode(), TABLE)
    assert problems == [
        "`dota-30`: unknown product 'dota'; known products: csgo, cs2, or marketplace.",
        "`cs2-45`: no plan lasts 45 days; choose one of 30, 90, 180, 365.",
        "`csgo-30 → eur`: 'eur' must be exactly 3 upper-case Latin letters, e.g. USD or EUR.",
        "`csgo-30 → EURO`: 'EURO' must be exactly 3 upper-case Latin letters, e.g. USD or EUR.",
        "`csgo-30 → €`: '€' must be exactly 3 upper-case Latin letters, e.g. USD or EUR.",
        "`csgo-90 → EUR`: 0 must be positive (more than 0).",
        "`csgo-90 → USD`: -1 must be positive (more than 0).",
        "`csgo-90 → GBP`: 'abc' is not a number; write it like 12.50 (digits, '.' for decimals).",
        "`csgo-180 → EUR`: 1.123456789 has 9 decimal places; at most 8 are allowed.",
        '`csgo-180 → USD`: a price must be a string such as "12.50" (numbers lose precision) or a 2-price range.',
        '`csgo-180 → GBP`: a price must be a string such as "12.50" (numbers lose precision) or a 2-price range.',
        "`csgo-365 → EUR`: the first price of a range (2) must be less than the second (1).",
        '`csgo-365 → USD`: a range must be a list of exactly 2 price strings, e.g. ["30.50", "31.30"].',
        '`csgo-365 → GBP`: a range must be a list of exactly 2 price strings, e.g. ["30.50", "31.30"].',
        "`cs2-90`: 4 currencies; Neverlose accepts at most 3 per product.",
        '`cs2-180`: must be an object of 1 to 3 currencies, e.g. {"EUR": "30.50"}.',
        '`cs2-365`: must be an object of 1 to 3 currencies, e.g. {"EUR": "30.50"}.',
        "`marketplace → EUR`: the first price of a range (1) must be less than the second (1).",
        "`cs2-30 → EUR`: a range can only be imported as exported (it stands for per-method prices); give one "
        "price, or set per-method prices with `/shop price set … method:`.",
    ]


def test_long_problem_lists_are_cut_in_the_message() -> None:
    document = {"marketplace": {f"A{chr(65 + i // 26)}{chr(65 + i % 26)}": "0" for i in range(3)}}
    document |= {f"csgo-{d}": {"EUR": "0"} for d in (30, 90, 180, 365)}
    error = ImportRejected([f"problem {i}" for i in range(45)])
    assert error.message.splitlines()[-1] == "- … and 5 more."
    assert len(error.message.splitlines()) == 1 + 40 + 1
    assert len(rejected(json.dumps(document).encode())) == 7
