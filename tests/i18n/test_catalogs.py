"""The catalogs: every id in both languages, the same placeholders, Russian plurals, per-locale formats."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel import Locale

from bot.i18n import (
    LOCALES,
    catalogs,
    date_time,
    from_accept_language,
    from_discord,
    money,
    number,
    relative,
    said,
    supported,
    t,
)
from bot.i18n.catalog import Catalogs, Language
from bot.i18n.formats import figure

LOCALE_DIR = Path(__file__).resolve().parents[2] / "bot" / "i18n" / "locales"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _forms(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def test_the_catalog_files_are_the_supported_languages() -> None:
    assert sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir()) == sorted(LOCALES)


@pytest.mark.parametrize("code", LOCALES)
def test_every_message_id_has_a_translation_in_every_language(code: str) -> None:
    every = set().union(*(catalogs().ids(c) for c in LOCALES))
    assert every - catalogs().ids(code) == set(), f"{code} lacks these messages"


@pytest.mark.parametrize("code", [c for c in LOCALES if c != "en"])
def test_placeholders_of_a_translation_are_the_english_ones(code: str) -> None:
    problems = []
    for msg_id in catalogs().ids("en"):
        english = _forms(catalogs().raw("en", msg_id) or "")
        translated = _forms(catalogs().raw(code, msg_id) or "")
        wanted = set().union(*(_fields(form) for form in english))
        for form in translated:
            if _fields(form) != wanted:
                problems.append((msg_id, form))
        if isinstance(catalogs().raw("en", msg_id), tuple) != isinstance(catalogs().raw(code, msg_id), tuple):
            problems.append((msg_id, "plural in one language only"))
    assert problems == []


@pytest.mark.parametrize("code", LOCALES)
def test_a_plural_message_has_as_many_forms_as_the_language(code: str) -> None:
    forms = {"en": 2, "ru": 3}[code]
    plurals = {m: v for m in catalogs().ids(code) if isinstance(v := catalogs().raw(code, m), tuple)}
    assert plurals, "the catalogs have plural messages"
    assert {m: len(v) for m, v in plurals.items()} == dict.fromkeys(plurals, forms)


def test_html_messages_are_marked_by_their_id() -> None:
    """Only ids ending in ``_html`` may hold markup (they are rendered unescaped, their values escaped)."""
    for code in LOCALES:
        for msg_id in catalogs().ids(code):
            has_markup = any("<" in form for form in _forms(catalogs().raw(code, msg_id) or ""))
            assert has_markup == msg_id.endswith("_html") or not has_markup, (code, msg_id)


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "1 подписка"),
        (2, "2 подписки"),
        (4, "4 подписки"),
        (5, "5 подписок"),
        (11, "11 подписок"),
        (12, "12 подписок"),
        (21, "21 подписка"),
        (22, "22 подписки"),
        (25, "25 подписок"),
        (101, "101 подписка"),
        (111, "111 подписок"),
        (0, "0 подписок"),
    ],
)
def test_russian_plurals(count: int, expected: str) -> None:
    assert t("ru", "count.subscriptions", count=count) == expected


def test_english_plurals_and_a_formatted_count() -> None:
    assert t("en", "count.subscriptions", count=1) == "1 subscription"
    assert t("en", "count.subscriptions", count=2) == "2 subscriptions"
    assert t("en", "count.subscriptions", count=1234) == "1,234 subscriptions"
    assert t("ru", "count.subscriptions", count=1234) == "1\N{NO-BREAK SPACE}234 подписки"
    assert t("ru", "product.plan", product="CS2", count=30) == "CS2, 30 дней"
    assert t("ru", "product.plan", product="CS2", count=365) == "CS2, 365 дней"


def test_the_russian_plural_rule_agrees_with_cldr() -> None:
    """The ``Plural-Forms`` header of ru/messages.po picks the form CLDR names for every count."""
    rule = catalogs().languages["ru"].plural
    cldr = Locale.parse("ru").plural_form
    order = {"one": 0, "few": 1, "many": 2}
    assert all(rule(n) == order[cldr(n)] for n in range(1000))


def test_placeholders_are_filled_by_name_and_a_missing_translation_falls_back_to_english() -> None:
    assert t("ru", "order.page_title", state="Оплачен", short_id="abc") == "Заказ abc · Оплачен"
    partial = Catalogs(
        {
            "en": Language("en", {"a": "Hello {name}", "b": "Bye"}, lambda n: int(n != 1)),
            "ru": Language("ru", {"a": "Привет, {name}"}, lambda n: 0),
        }
    )
    assert partial.text("ru", "a", name="Аня") == "Привет, Аня"
    assert partial.text("ru", "b") == "Bye"
    assert partial.text("de", "a", name="X") == "Hello X"
    with pytest.raises(KeyError):
        partial.text("en", "missing")


def test_an_english_sentence_from_a_lower_layer_is_found_and_translated() -> None:
    text = "Choose manual payment first."
    assert catalogs().localize_english("ru", text, "order.refused.") == "Сначала выберите оплату вручную."
    assert catalogs().localize_english("ru", "Something else.", "order.refused.") == "Something else."


def test_numbers_and_money_per_locale() -> None:
    nbsp = "\N{NO-BREAK SPACE}"
    assert money(Decimal("1234.5"), "NLE", "ru") == f"1{nbsp}234,50{nbsp}NLE"
    assert money(Decimal("1234.5"), "NLE", "en") == "1,234.50 NLE"
    assert money(Decimal("0.125"), "USDT", "en") == "0.125 USDT", "money is never rounded"
    assert money(Decimal("62.6"), "NLE", "ru") == f"62,60{nbsp}NLE"
    assert number(1234567, "ru") == f"1{nbsp}234{nbsp}567"
    assert number(Decimal("3.25"), "ru") == "3,25"
    assert figure(Decimal("1234.5"), "ru") == f"1{nbsp}234,50"
    assert figure(Decimal("0.125"), "en") == "0.125"
    assert said.amount(Decimal("1234.5"))("en") == "1,234.50"


def test_dates_and_relative_times_per_locale() -> None:
    moment = datetime(2026, 12, 7, 12, 17, tzinfo=UTC)
    assert date_time(moment, "en") == "Dec 7, 2026, 12:17 UTC"
    assert date_time(moment, "ru") == "7 дек. 2026\N{NARROW NO-BREAK SPACE}г., 12:17 UTC"
    assert relative(timedelta(minutes=5), "ru") == "через 5 минут"
    assert relative(timedelta(minutes=5), "en") == "in 5 minutes"
    assert relative(timedelta(days=-2), "ru") == "2 дня назад"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("ru", "ru"), ("en-US", "en"), ("en-GB", "en"), ("ru-RU", "ru"), ("en_GB", "en"), ("uk", None), ("", None)],
)
def test_supported_language_of_a_tag(tag: str, expected: str | None) -> None:
    assert supported(tag) == expected


def test_discord_locales() -> None:
    import discord

    assert from_discord(discord.Locale.russian) == "ru"
    assert from_discord(discord.Locale.british_english) == "en"
    assert from_discord(discord.Locale.american_english) == "en"
    assert from_discord(discord.Locale.german) == "en"
    assert from_discord(discord.Locale.german, fallback="ru") == "ru"
    assert from_discord(None) == "en"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en-GB,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,de;q=0.9,ru;q=0.5,en;q=0.4", "ru"),
        ("en;q=0.3, ru;q=0.7", "ru"),
        ("ru;q=0, en", "en"),
        ("de, fr", None),
        ("*", None),
        ("ru;q=abc, en;q=0.1", "en"),
        (None, None),
    ],
)
def test_accept_language(header: str | None, expected: str | None) -> None:
    assert from_accept_language(header) == expected
