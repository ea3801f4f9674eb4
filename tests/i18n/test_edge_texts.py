"""Texts that lower (money, validation) modules produce in English and that reach a reader inside a translated
sentence: each carries a catalog message (or is matched to one at the edge), so a Russian reader gets Russian;
the English the modules record (and their tests check) is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import t
from bot.market import validation
from bot.market.errors import MarketValidationError
from bot.notifications.discord_sink import DeliveryError
from bot.stats.periods import MAX_DAYS, PeriodError, custom_period
from bot.webhooks.reasons import reason_text
from bot.webhooks.validation import Invalid, classify
from tests.i18n.leaks import english_in

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

REFUSALS: list[tuple[Callable[[], object], str]] = [
    (lambda: validation.validate_request_id("bad id"), "must be 1-80 characters of letters, digits, '.', '_' or '-'"),
    (lambda: validation.validate_username(5), "must be text"),
    (lambda: validation.validate_username("bad name!"), "must be 1-64 characters of letters, digits, '.', '_' or '-'"),
    (lambda: validation.validate_item_code("a b"), "must be 1-32 characters of letters, digits, '_' or '-'"),
    (lambda: validation.validate_integration_id(0), "must be positive"),
    (lambda: validation.validate_integration_id("a b"), "must be a positive integer or 1-80 safe characters"),
    (lambda: validation.validate_product("csgo2"), "must be one of csgo, cs2"),
    (lambda: validation.validate_plan(7), "must be cnt 0, 1, 2 or 3 (30, 90, 180 or 365 days)"),
    (lambda: validation.validate_amount(1.5), "must be a Decimal (floats and booleans are refused)"),
    (lambda: validation.validate_amount("abc"), "must be a number such as 2.50"),
    (lambda: validation.validate_amount([1]), "must be a Decimal"),
    (lambda: validation.validate_amount("NaN"), "must be a finite number"),
    (lambda: validation.validate_amount("0"), "must be positive"),
    (lambda: validation.validate_amount("1000000000"), f"must be at most {validation.MAX_AMOUNT}"),
    (lambda: validation.validate_amount("1.234"), "must have at most two decimal places"),
    (
        lambda: validation.normalize_spending_params("steal", {}),
        "must be one of " + ", ".join(validation.SPENDING_METHODS),
    ),
    (
        lambda: validation.normalize_spending_params("transfer-money", {"item": "a", "code": "b"}),
        "the same parameter is given twice",
    ),
    (
        lambda: validation.normalize_spending_params("transfer-money", {"username": "a", "cnt": 1}),
        "transfer-money takes username, amount (missing: ['amount'], unknown: ['cnt'])",
    ),
]


@pytest.mark.parametrize(("call", "english"), REFUSALS)
def test_market_validation_messages_in_both_languages(call: Callable[[], object], english: str) -> None:
    with pytest.raises(MarketValidationError) as caught:
        call()
    assert caught.value.message == english  # the recorded (English) text is what it always was
    assert caught.value.message_in("en") == english
    russian = caught.value.message_in("ru")
    assert russian != english
    assert english_in(russian) == []


def test_a_message_without_a_catalog_sentence_is_shown_as_given() -> None:
    error = MarketValidationError("prices", "must name at least one product")
    assert error.message_in("ru") == "must name at least one product"


def test_the_staff_answer_to_a_bad_amount_is_russian_through_and_through() -> None:
    from bot.staff import inputs
    from bot.staff.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        inputs.amount("0")
    assert caught.value.said is not None
    text = caught.value.said("ru")
    assert "(должно быть больше нуля)" in text
    assert english_in(text) == []
    assert "it must be positive (" in caught.value.said("en")


@pytest.mark.parametrize(
    ("start", "end", "english", "russian"),
    [
        (None, "2026-03-01", "give a `from` date (YYYY-MM-DD) with `to`", "вместе с `по` укажите дату `с`"),
        ("yesterday", None, "`yesterday` is not a date; use YYYY-MM-DD", "`yesterday` — не дата"),
        ("2026-03-02", "2026-03-01", "the end date is before the start date", "дата конца раньше даты начала"),
        ("2024-01-01", "2026-03-01", f"a period is at most {MAX_DAYS} days", f"период — не больше {MAX_DAYS} дн."),
    ],
)
def test_period_errors_in_both_languages(start: str | None, end: str | None, english: str, russian: str) -> None:
    with pytest.raises(PeriodError) as caught:
        custom_period(start, end, AT, BERLIN)
    assert str(caught.value).startswith(english)
    assert caught.value.said("ru").startswith(russian)
    assert english_in(caught.value.said("ru")) == []


def _transfer(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {"kind": "transfer", "amount": 5, "username": "a49", "unique_id": 7, "signature": "x"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "refund"},
        _transfer(unique_id="7"),
        _transfer(unique_id=0),
        _transfer(amount="5"),
        _transfer(amount=-1),
        _transfer(amount=10**12),
        _transfer(username="bad name!"),
        {"kind": "purchase", "amount": 5, "username": "a49", "unique_id": 7, "item_id": "a b", "signature": "x"},
        _transfer(amount=None, extra=1, more=2),
        _transfer(amount=None),
        _transfer(extra=1),
    ],
)
def test_every_quarantine_reason_in_both_languages(body: dict[str, object]) -> None:
    invalid = classify(body, AT)
    assert isinstance(invalid, Invalid)
    assert reason_text(invalid.reason, "en") == invalid.reason
    russian = reason_text(invalid.reason, "ru")
    assert russian != invalid.reason
    assert english_in(russian) == []


def test_an_unknown_stored_reason_is_shown_as_stored() -> None:
    assert reason_text("something new", "ru") == "something new"


def test_a_discord_refusal_in_both_languages() -> None:
    error = DeliveryError("blocked", status=403, code=50013, text="Missing Permissions")
    assert error.describe == "HTTP 403 code 50013: Missing Permissions"  # what the outbox records
    assert error.describe_in("ru") == "HTTP 403, код 50013: Missing Permissions"  # Discord's words as given
    assert t("ru", "notify.discord_error", status=1, code=2, text="x") != t(
        "en", "notify.discord_error", status=1, code=2, text="x"
    )
    assert (
        DeliveryError("refused", status=400, code=1, text="x" * 400).describe_in("ru")
        == ("HTTP 400, код 1: " + "x" * 400)[:300]
    )


def test_the_rename_note_in_both_languages() -> None:
    import json

    from bot.linking.links import Link, Rename
    from bot.linking.renames import rename_embed

    rename = Rename(Link(42, "sub-1", "A50", AT, neverlose_user_id=1001), "A49", AT)
    english = json.dumps(rename_embed(rename), ensure_ascii=False)
    assert "The Neverlose account linked to <@42> is now called `A50` (was `A49`)." in english
    assert '"Neverlose user id"' in english
    russian = json.dumps(rename_embed(rename, "ru"), ensure_ascii=False)
    assert "теперь называется `A50` (был `A49`)" in russian
    assert english_in(russian) == []


def test_the_given_up_fanout_alert_in_both_languages() -> None:
    import json

    from bot.webhooks.models import WebhookEvent
    from bot.webhooks.processor import EventProcessor, _Item

    event = WebhookEvent(
        kind="purchase", amount=Decimal("5"), username="a49", unique_id=7, item_id="E3yugw", received_at=AT
    )
    item = _Item("webhook_events", 1, 5, event=event)
    english = EventProcessor._alert(item, "RuntimeError")
    assert english["title"] == "Webhook event not processed"
    assert english["fields"][0]["value"] == "kind=purchase unique_id=7"
    russian = json.dumps(EventProcessor._alert(item, "RuntimeError", "ru"), ensure_ascii=False)
    assert "Событие вебхука не обработано" in russian
    assert english_in(russian) == []
