"""The English sentences of the shop's money modules (validation, import, push) and of the service, each
matched to its catalog message: shown again in English they are exactly what the module wrote, shown in
Russian they hold no English catalog text. A module whose wording changes without its catalog message fails
here (its sentence would otherwise reach a Russian reader in English)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.i18n import t
from bot.i18n.english import match
from bot.i18n.formats import as_written
from bot.market.errors import MarketError, MarketUnavailable
from bot.notifications.outbox import Outbox
from bot.shop import localized
from bot.shop.catalog import PaymentMethod
from bot.shop.importing import MAX_IMPORT_BYTES, ImportRejected, check_size, parse_import
from bot.shop.price_table import PriceEntry
from bot.shop.push import PricePusher
from bot.shop.state import ShopState
from bot.shop.status import ShopStatus
from bot.shop.validation import (
    ShopInputError,
    check_currency_count,
    parse_currency,
    parse_method,
    parse_price,
    parse_product_key,
    product_key,
)
from bot.storage import Database
from tests.i18n.leaks import english_in
from tests.shop.conftest import Alerts, Clock

NBSP = "\N{NO-BREAK SPACE}"

REFUSALS: list[Callable[[], object]] = [
    lambda: parse_product_key("dota-30"),
    lambda: parse_product_key("cs2-x"),
    lambda: parse_product_key("cs2-45"),
    lambda: product_key("marketplace", 30),
    lambda: product_key("dota", 30),
    lambda: product_key("cs2", None),
    lambda: product_key("csgo", 45),
    lambda: parse_currency("usd"),
    lambda: parse_currency(5),
    lambda: parse_price(1.5),
    lambda: parse_price(Decimal("NaN")),
    lambda: parse_price(["1"]),
    lambda: parse_price("1" * 40),
    lambda: parse_price("12,50"),
    lambda: parse_price("-1"),
    lambda: parse_price("0"),
    lambda: parse_price("1.123456789"),
    lambda: parse_price("1" * 13),
    lambda: parse_method("paypal"),
    lambda: check_currency_count(
        [PriceEntry("cs2-30", code, Decimal(1)) for code in ("EUR", "USD", "RUB")], "cs2-30", "GBP"
    ),
]


@pytest.mark.parametrize("refuse", REFUSALS)
def test_every_validation_rule_has_its_message(refuse: Callable[[], object]) -> None:
    with pytest.raises(ShopInputError) as info:
        refuse()
    exc = info.value
    assert match(exc.rule, "shop.rule.") is not None, exc.rule
    assert localized.invalid(exc, "en") == exc.message  # English exactly as the module wrote it
    russian = localized.invalid(exc, "ru")
    assert russian.startswith("Неверное значение «")
    assert english_in(russian) == []


FILES = [
    b"\xff\xfe",
    b"not json",
    b'{"a": 1, "a": 2}',
    b'{"cs2-30": {"EUR": Infinity}}',
    b"[1]",
    b'{"dota": {"EUR": "1"}, "cs2": {"EUR": "1"}, "cs2-30": {"EUR": "1"}, "csgo-30": {}}',
    b'{"csgo-90": {"AAA": "1", "BBB": "1", "CCC": "1", "DDD": "1"}, "csgo-180": {"EUR": ["1"]}}',
    b'{"csgo-180": {"EUR": ["2", "1"], "USD": ["1", "2"], "RUB": 5}, "cs2-90": {"eur": "1.5"}}',
    json.dumps({f"cs2-{n}": {"EUR": "0"} for n in range(60)}).encode(),
]


@pytest.mark.parametrize("raw", FILES)
def test_every_import_problem_has_its_message(raw: bytes) -> None:
    with pytest.raises(ImportRejected) as info:
        parse_import(raw, [PriceEntry("cs2-30", "EUR", Decimal("1"))], [PaymentMethod.MANUAL])
    exc = info.value
    for problem in exc.problems:
        found = match(problem, "shop.problem.")
        assert found is not None, problem
        assert localized.problem(problem, "en") == problem
        if found[0] == "shop.problem.rule":
            assert match(found[1]["rule"], "shop.rule.") is not None, problem
        if found[0] == "shop.problem.unreadable":
            assert match(found[1]["reason"], "shop.json.") is not None, problem
    russian = localized.rejected(exc, "ru")
    assert russian.startswith("Ничего не импортировано: в файле ")
    assert english_in(russian) == []


def test_an_oversized_file_in_russian() -> None:
    with pytest.raises(ImportRejected) as info:
        check_size(MAX_IMPORT_BYTES + 1)
    assert localized.problem(info.value.problems[0], "en") == info.value.problems[0]
    assert localized.rejected(info.value, "ru") == (
        "Ничего не импортировано: в файле 1 ошибка.\n"
        f"- размер файла 65{NBSP}537 байт; принимается не больше 65{NBSP}536 байт (64 КиБ)."
    )


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "1 ошибка"), (2, "2 ошибки"), (5, "5 ошибок"), (21, "21 ошибка"), (44, "44 ошибки"), (60, "60 ошибок")],
)
def test_the_number_of_problems_in_russian_and_english(count: int, expected: str) -> None:
    exc = ImportRejected([f"`cs2-{n}`: no plan lasts {n} days; choose one of 30, 90, 180, 365." for n in range(count)])
    russian = localized.rejected(exc, "ru")
    assert russian.startswith(f"Ничего не импортировано: в файле {expected}.")
    assert ("и ещё 20 ошибок." in russian) is (count == 60)  # at most 40 listed
    english = localized.rejected(exc, "en")
    assert english.startswith(f"Nothing was imported: the file has {count} problem{'' if count == 1 else 's'}.")


def test_prices_the_reader_s_way() -> None:
    assert localized.price(Decimal("1234.50"), "en") == "1234.50"  # as before: Neverlose's plain form
    assert localized.price(Decimal("1234.50"), "ru") == f"1{NBSP}234,50"
    assert localized.price(Decimal("0.12345678"), "ru") == "0,12345678"
    assert localized.price(Decimal("30"), "ru") == "30"
    assert as_written(Decimal("1234.50"), "en") == "1,234.50"
    assert as_written(Decimal("1234567.125"), "ru") == f"1{NBSP}234{NBSP}567,125"
    assert localized.price_value((Decimal("30.5"), Decimal("1031.30")), "ru") == f"30,5–1{NBSP}031,30"


async def _pusher_sentences(shop_state: ShopState) -> list[tuple[str, str]]:
    """Every alert the pusher posts and every problem it describes, from a real schedule."""
    clock, alerts = Clock(), Alerts()
    failing: list[Exception] = []

    async def build() -> str | None:
        return '{"cs2-30":{"EUR":"1"}}'

    async def send(text: str) -> None:
        if failing:
            raise failing[0]

    refresh = timedelta(hours=12)
    pusher = PricePusher(build=build, send=send, state=shop_state, alerts=alerts, refresh=refresh, clock=clock)
    failing.append(MarketError("busy", method="set-reseller-prices"))
    await pusher.tick()  # never succeeded
    clock.advance(hours=24, seconds=1)
    await pusher.tick()  # stale, last success: never
    failing.clear()
    await pusher.push()
    await pusher.check_alerts()  # live again
    pushed = clock.now
    failing.append(MarketUnavailable("set-reseller-prices: timed out", method="set-reseller-prices"))
    clock.now = pushed + timedelta(hours=22, seconds=1)
    await pusher.tick()  # expiring
    problems = [pusher.problem(clock.now), pusher.problem(pushed + timedelta(hours=25))]  # expiring, expired
    assert [p for p in problems if p is None] == []
    titles = sorted({title for title, _, _ in alerts.posted})
    sentences = [(title, text) for title, text, _ in alerts.posted]
    sentences += [(titles[0], str(text)) for text in problems]
    return sentences


async def test_every_push_alert_in_russian(shop_db: Database) -> None:
    sentences = await _pusher_sentences(ShopState(shop_db))
    ids = set()
    for title, text in sentences:
        assert localized.alert(title, text, "en") == (title, text)
        found = match(text, "shop.alert.")
        assert found is not None, text
        ids.add(found[0])
        shown_title, shown = localized.alert(title, text, "ru")
        assert english_in(shown_title + " " + shown) == [], shown
    assert ids == {"shop.alert.stale", "shop.alert.live_again_text", "shop.alert.expiring", "shop.alert.expired"}
    stale = next(text for _, text in sentences if text.startswith("No price push"))
    assert localized.alert("x", stale, "ru")[1].startswith(
        "Цены не удаётся отправить дольше двух интервалов обновления (последняя успешная отправка: ни разу). "
        "Неудачных попыток: 2; следующая — в "
    )


async def test_localized_alerts_post_in_the_channel_language(shop_db: Database) -> None:
    woken: list[int] = []
    language = ["ru"]
    alerts = localized.LocalizedAlerts(Outbox(shop_db), lambda: woken.append(1), lambda: language[0])
    await alerts(
        "Neverlose checkout prices at risk",
        "No price push has succeeded for more than twice the "
        "refresh interval (last success: never). See `/shop status`.",
        problem=True,
    )
    language[0] = "en"
    await alerts(
        "Neverlose checkout prices are live again",
        "The prices were pushed at 2026-03-17T12:00:00Z; they expire at 2026-03-18T12:00:00Z unless renewed.",
        problem=False,
    )
    rows = await Outbox(shop_db).pending()
    assert [r.target for r in rows] == ["channel:audit", "channel:audit"]
    first, second = (r.embeds[0] for r in rows)  # type: ignore[index]
    assert first["title"] == "Цены на странице оплаты Neverlose под угрозой"
    assert first["description"] == (
        "Цены не удаётся отправить дольше двух интервалов обновления (последняя успешная отправка: ни разу). "
        "См. `/магазин статус`."
    )
    assert second["title"] == "Neverlose checkout prices are live again"
    assert second["description"].startswith("The prices were pushed at 2026-03-17T12:00:00Z;")
    assert woken == [1, 1]


async def test_a_push_alert_keeps_the_language_it_was_queued_in(shop_db: Database) -> None:
    """Translated when queued (``LocalizedAlerts``), not at delivery as the money modules' alerts are: an alert
    raised while the channel was English is delivered in English after the channel turned Russian, and the
    other way round (bot/shop/localized.py's ``LocalizedAlerts`` says why the two ways stay apart)."""
    language = ["en"]
    alerts = localized.LocalizedAlerts(Outbox(shop_db), None, lambda: language[0])
    title = "Neverlose checkout prices at risk"
    description = "No price push has succeeded for more than twice the refresh interval (last success: never). "
    await alerts(title, description + "See `/shop status`.", problem=True)
    language[0] = "ru"
    await alerts(title, description + "See `/shop status`.", problem=True)
    russian = (
        "Цены не удаётся отправить дольше двух интервалов обновления (последняя успешная отправка: ни разу). "
        "См. `/магазин статус`."
    )
    for now in ("ru", "en"):
        rows = await Outbox(shop_db, locale=lambda now=now: now).pending()
        queued_in_english, queued_in_russian = (r.embeds[0] for r in rows)  # type: ignore[index]
        assert (queued_in_english["title"], queued_in_english["description"]) == (
            title,
            description + "See `/shop status`.",
        )
        assert (queued_in_russian["title"], queued_in_russian["description"]) == (
            "Цены на странице оплаты Neverlose под угрозой",
            russian,
        )
        assert [r.dedupe_key[:12] for r in rows] == ["shop:prices:", "shop:prices:"]


def test_status_rows_in_russian_and_english() -> None:
    now = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)
    status = ShopStatus(
        integration_id=7,
        public=True,
        visibility_set_at=now,
        last_success=None,
        expires_at=now - timedelta(hours=1),
        next_push=now,
        entries=1234,
        pushed_products=0,
        nothing_reason="No payment method is enabled; set `/shop method manual` instructions or CRYPTOPAY_TOKEN.",
        last_error="Neverlose refused: Invalid integration_id",
        last_error_at=now,
        redirect_url=None,
        checkout_path="/checkout",
        methods=[],
        alert_active=True,
        now=now,
        sample_link="https://x.example/s",
    )
    russian = dict(status.lines("ru"))
    assert russian["Записи"] == f"в таблице: 1{NBSP}234; продуктов в следующей отправке: 0"
    assert russian["Отправлять нечего"].startswith("Не включён ни один способ оплаты;")
    assert russian["Последняя ошибка"].startswith("Neverlose отказал: Invalid integration_id (<t:")
    assert russian["Отправленные цены"].startswith("истекли <t:")
    assert russian["Включённые способы оплаты"] == "нет"
    assert english_in(" ".join(f"{k} {v}" for k, v in russian.items())) == []
    english = dict(status.lines())
    assert english["Entries"] == "1,234 in the table; 0 product(s) in the next push"
    assert english["Last error"].startswith("Neverlose refused: Invalid integration_id (<t:")
    assert english["Visibility"].startswith("public, set <t:")


def test_the_next_push_field_shows_the_json_cut_to_fit_or_why_nothing_is_pushed() -> None:
    assert localized.next_push_field('{"a":1}', None, "en") == ("Next push sends", '```json\n{"a":1}\n```')
    fits = "x" * 1000
    assert localized.next_push_field(fits, None, "en")[1] == f"```json\n{fits}\n```"
    long = "y" * 1001
    assert localized.next_push_field(long, None, "en")[1] == "```json\n" + "y" * 997 + "…\n```"
    empty = "The price table is empty; add prices with `/shop price set`."
    assert localized.next_push_field(None, empty, "en") == ("Next push", f"Nothing is pushed: {empty}")
    assert localized.next_push_field(None, empty, "ru") == (
        t("ru", "shop.prices.next_push"),
        t("ru", "shop.prices.nothing", reason=t("ru", "shop.next.empty")),
    )


def test_the_visibility_question_warns_below_it_when_nothing_is_pushed() -> None:
    ask = (
        "Make your integration **public**? Every customer will see your payment method and prices on Neverlose's "
        "checkout and can be redirected to this bot."
    )
    ask_ru = (
        "Сделать интеграцию **публичной**? Все покупатели увидят ваш способ оплаты и цены на странице оплаты "
        "Neverlose и смогут перейти к этому боту."
    )
    assert localized.visibility_ask('{"a":1}', None, "en") == ask
    assert localized.visibility_ask('{"a":1}', None, "ru") == ask_ru
    empty = "The price table is empty; add prices with `/shop price set`."
    assert localized.visibility_ask(None, empty, "en") == (
        f"{ask}\n\n**Warning:** nothing is pushed to Neverlose yet. {empty}"
    )
    assert localized.visibility_ask(None, empty, "ru") == (
        f"{ask_ru}\n\n**Внимание:** в Neverlose пока ничего не отправлено. "
        "Таблица цен пуста; добавьте цены командой `/магазин цена задать`."
    )
    assert localized.visibility_ask(None, None, "en") == f"{ask}\n\n**Warning:** nothing is pushed to Neverlose yet. "


@pytest.mark.parametrize(
    ("show", "prefix"),
    [
        (lambda text, locale: localized.rule(text, locale), "shop.rule."),
        (lambda text, locale: localized.problem(text, locale), "shop.problem."),
        (lambda text, locale: localized.nothing_reason(text, locale), "shop.next."),
        (lambda text, locale: localized.push_error(text, locale), "shop.error."),
        (lambda text, locale: localized.alert(text, "See `/shop status`.", locale)[0], "shop.alert."),
        (lambda text, locale: localized.alert("Neverlose checkout prices at risk", text, locale)[1], "shop.alert."),
    ],
)
def test_a_shop_sentence_no_message_matches_is_shown_as_written_and_logged(
    show: Callable[[str, str], str], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The money modules' own sentences must each keep their catalog message: one that matches none (its
    wording changed) reaches the reader as written, in both languages, and leaves a warning naming its prefix."""
    odd = "a sentence no shop message has"
    for locale in ("en", "ru"):
        caplog.clear()
        with caplog.at_level("WARNING", logger="bot.i18n.english"):
            assert show(odd, locale) == odd
        assert [r.getMessage() for r in caplog.records] == [f"english sentence not in the catalog prefix={prefix}"]


def test_a_nested_sentence_no_message_matches_is_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    """An import problem whose rule inside matches no rule: the problem in Russian, the rule as written, logged."""
    text = "`cs2-30`: odd rule"
    found = match(text, "shop.problem.")
    assert found is not None
    assert "rule" in found[1]
    caplog.set_level("WARNING", logger="bot.i18n.english")
    assert localized.problem(text, "ru") == t("ru", "shop.problem.rule", where="cs2-30", rule="odd rule")
    assert [r.getMessage() for r in caplog.records] == ["english sentence not in the catalog prefix=shop.rule."]
