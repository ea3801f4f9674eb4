"""The edges of what ``bot/orders/rendering.py`` shows (its mutation survivors): the limits Discord's fields
and titles are clipped to, exactly at the limit and one over; times in UTC on a host that is not on UTC; what
only shows in a given state; the reader's language in the less common answers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.orders import localized, rendering
from bot.orders.cryptopay_events import LATE_ERROR
from bot.orders.models import Transition
from bot.orders.prechecks import BlockReason
from tests.orders.test_discord_rendering import ORDER, WHEN, S


def test_the_cards_clipped_lines() -> None:
    at_limit = replace(ORDER, payment_claimed_at=WHEN, claim_reference="r" * 100)
    claimed = rendering.card_embed(at_limit)["fields"][-1]["value"]
    assert claimed.endswith("`" + "r" * 100 + "`")
    over = replace(ORDER, payment_claimed_at=WHEN, claim_reference="r" * 101)
    assert rendering.card_embed(over)["fields"][-1]["value"].endswith("`" + "r" * 99 + "…`")
    refused = replace(ORDER, state=S.NEEDS_ATTENTION, last_error="e" * 901)
    assert rendering.card_embed(refused)["fields"][-1] == {
        "name": "Neverlose refused",
        "value": "e" * 899 + "…",  # no automatic retry: nothing after the error
        "inline": False,
    }
    long_id = replace(ORDER, id="x" * 300)
    assert len(rendering.card_embed(long_id)["title"]) == 256
    assert len(rendering.list_embed([], title="t" * 300, page=0, has_more=False)["title"]) == 256


def test_a_check_reason_without_a_block_is_not_shown() -> None:
    passed = replace(ORDER, check_status="ok", check_reason="low_balance")
    names = [f["name"] for f in rendering.card_embed(passed)["fields"]]
    assert "Cannot be offered" not in names


def test_the_price_not_chosen_yet_in_russian() -> None:
    assert rendering.price_text(replace(ORDER, amount=None), "ru") == "ещё не выбрана"
    assert rendering.price_text(replace(ORDER, currency=None), "ru") == "ещё не выбрана"
    assert rendering.price_text(replace(ORDER, amount=None), "en") != rendering.price_text(ORDER, "en")


def test_filters_and_an_empty_page_in_russian() -> None:
    assert rendering.filters_text("cancelled", "darth", 1, "ru") == "статус отменён, логин darth, последний 1 день"
    assert rendering.list_embed([], title="T", page=0, has_more=False, locale="ru")["description"] == (
        "Подходящих заказов нет."
    )


def test_my_orders_one_line_each() -> None:
    second = replace(ORDER, id="x2")
    assert rendering.mine_embed([ORDER, second], url_of=lambda i: "u/" + i, locale="ru")["description"] == (
        "[abc_DEF-123](u/abc_DEF-123) **Ожидает оплаты** CS2, 30 дней → `darth`\n"
        "[x2](u/x2) **Ожидает оплаты** CS2, 30 дней → `darth`"
    )


def test_order_show_without_a_method_and_without_details_in_russian() -> None:
    no_method = replace(ORDER, method=None)
    field = rendering.detail_embed(no_method, [], payment_details={}, locale="ru")["fields"][-2]
    assert field == {
        "name": "Оплата покупателя (платёжная система)",
        "value": "Платёжная система не вернула данных об оплате этого заказа; посмотрите их там.",
        "inline": False,
    }


def test_order_show_passes_the_second_staff_member_on() -> None:
    fields = rendering.detail_embed(ORDER, [], requested_by=9)["fields"]
    assert any(f["name"] == "Waiting for a second staff member" and "<@9>" in f["value"] for f in fields)


def test_order_show_clips_details_timeline_and_notes() -> None:
    details = rendering.detail_embed(ORDER, [], payment_details={"invoice_id": "9" * 1100})["fields"][-2]
    assert len(details["value"]) == 1024
    note = Transition(ORDER.id, 1, None, S.AWAITING_PAYMENT, WHEN, "system", "n" * 121)
    line = rendering.detail_embed(ORDER, [note])["fields"][-1]["value"]
    assert line.endswith(" — " + "n" * 119 + "…")
    history = [
        Transition(ORDER.id, i, None, S.AWAITING_PAYMENT, WHEN + timedelta(seconds=i), "system", f"note {i}")
        for i in range(16)
    ]
    timeline = rendering.detail_embed(ORDER, history)["fields"][-1]["value"]
    assert "note 0\n" not in timeline
    assert timeline.count("\n") == 14
    assert timeline.endswith("note 15")
    many = [Transition(ORDER.id, i, None, S.AWAITING_PAYMENT, WHEN, "system", "m" * 120) for i in range(15)]
    assert len(rendering.detail_embed(ORDER, many)["fields"][-1]["value"]) == 1024


@pytest.fixture
def tokyo() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("tokyo")
def test_timestamps_are_utc_on_a_host_that_is_not() -> None:
    delivered = replace(ORDER, state=S.DELIVERED)
    assert rendering.card_embed(delivered)["timestamp"] == "2026-12-07T12:00:00+00:00"
    assert rendering.receipt_embed(delivered, url="u")["timestamp"] == "2026-12-07T12:00:00+00:00"


def test_a_late_payments_last_error_is_shown_in_the_readers_language() -> None:
    """The order modules' own last error (a late Crypto Pay payment) by its message; the Market's as written."""
    late = replace(ORDER, state=S.NEEDS_ATTENTION, last_error=LATE_ERROR)
    assert rendering.card_embed(late, locale="ru")["fields"][-1]["value"] == "оплачено после истечения срока заказа"
    assert rendering.card_embed(late)["fields"][-1]["value"] == LATE_ERROR
    market = replace(ORDER, state=S.NEEDS_ATTENTION, last_error="Not enough balance.")
    assert rendering.card_embed(market, locale="ru")["fields"][-1]["value"] == "Not enough balance."


STATE_CHOICES = {  # a state as staff filter by it (the /orders list choices), English and Russian
    S.AWAITING_PAYMENT: ("awaiting_payment", "ожидает оплаты"),
    S.PAID: ("paid", "оплачен"),
    S.FULFILLING: ("fulfilling", "выдаётся"),
    S.DELIVERED: ("delivered", "выдан"),
    S.EXPIRED: ("expired", "просрочен"),
    S.CANCELLED: ("cancelled", "отменён"),
    S.NEEDS_ATTENTION: ("needs_attention", "нужно внимание"),
    S.REFUNDED: ("refunded", "деньги возвращены"),
}


@pytest.mark.parametrize("state", list(S))
def test_every_state_shows_as_its_list_choice_in_the_card_the_list_and_the_timeline(state: S) -> None:
    """One name per state (``localized.state_choice``) wherever staff read it, the same as ``/orders list``'s
    filter, in both languages."""
    order = replace(ORDER, state=state)
    entry = Transition(ORDER.id, 1, S.PAID, state, WHEN, "system", None)
    for locale, name in zip(("en", "ru"), STATE_CHOICES[state], strict=True):
        assert localized.state_choice(state, locale) == name
        assert rendering.filters_text(state.value, None, None, locale).endswith(f" {name}")
        card = rendering.card_embed(order, locale=locale)
        assert [f["value"] for f in card["fields"] if f["name"] in ("State", "Статус")] == [name]
        assert f" **{name}** " in rendering.order_line(order, locale)
        timeline = rendering.detail_embed(order, [entry], locale=locale)["fields"][-1]["value"]
        move = name if state is S.PAID else f"{STATE_CHOICES[S.PAID][locale == 'ru']} → {name}"
        assert move in timeline


STAFF_BLOCK_TEXTS = {  # the card's "Cannot be offered" field per pre-check reason, English and Russian
    "no_price": (
        "no price (or no enabled payment method) for this product",
        "нет цены (или включённого способа оплаты) для этого товара",
    ),
    "user_not_found": ("the login does not exist on Neverlose", "такого логина на Neverlose нет"),
    "not_invited": ("the login is not invited to this product", "логин не приглашён к этому продукту"),
    "low_balance": ("the Market balance is too low", "на балансе маркета недостаточно средств"),
    "market_unavailable": ("the Market API did not answer", "Market API не ответил"),
    "market_unavailable ": ("market_unavailable ", "market_unavailable "),  # not a reason: shown as written
    "LOW_BALANCE": ("LOW_BALANCE", "LOW_BALANCE"),
}


@pytest.mark.parametrize("reason", list(STAFF_BLOCK_TEXTS))
def test_the_cards_block_reason_in_both_languages(reason: str) -> None:
    """Each pre-check reason (``localized.BLOCK_REASONS``) by its staff message; any other text as written."""
    assert frozenset(r.value for r in BlockReason) == localized.BLOCK_REASONS
    blocked = replace(ORDER, check_status="blocked", check_reason=reason)
    names = ("Cannot be offered", "Нельзя предложить")
    for locale, name, text in zip(("en", "ru"), names, STAFF_BLOCK_TEXTS[reason], strict=True):
        fields = rendering.card_embed(blocked, locale=locale)["fields"]
        assert [f["value"] for f in fields if f["name"] == name] == [text]


def test_order_show_lists_each_payment_detail_on_its_own_line_in_russian() -> None:
    details = {"invoice_id": "55", "paid_asset": "USDT", "paid_amount": "20.5"}
    field = rendering.detail_embed(ORDER, [], payment_details=details, locale="ru")["fields"][-2]
    assert field["value"] == "Счёт: `55`\nОплачено в валюте: `USDT`\nОплаченная сумма: `20.5`"


def test_my_orders_title_in_both_languages() -> None:
    assert rendering.mine_embed([], url_of=lambda i: i, locale="ru")["title"] == "Ваши заказы"
    assert rendering.mine_embed([], url_of=lambda i: i)["title"] == "Your orders"


def test_a_refusal_outside_the_last_error_messages_is_shown_as_written_and_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The card's refusal is matched to ``orders.last_error.*`` only: an error that happens to read like another
    catalog message (here a block reason's) stays as written, and an error no message has is data, not logged."""
    caplog.set_level("WARNING")
    for error in ("the login is not invited to this product", "a free error from Neverlose"):
        refused = replace(ORDER, state=S.NEEDS_ATTENTION, last_error=error, auto_retry=False)
        fields = rendering.card_embed(refused, locale="ru")["fields"]
        assert [f["value"] for f in fields if f["name"] == "Neverlose отказал"] == [error]
    assert caplog.records == []
