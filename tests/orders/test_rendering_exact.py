"""What staff and buyers read of an order, whole and exact, in English and Russian: the receipt DM, the card's
buttons per state, the actor of a timeline entry, ``/buy``'s answer, a page of ``/orders list`` and the
payment and timeline fields of ``/order show`` (mutation testing of ``bot/orders/rendering.py``: a changed
key, label, style, locale or separator fails here)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.orders import rendering
from bot.orders.models import Transition
from tests.orders.test_discord_rendering import ORDER, WHEN, S

URL = "https://shop.example/orders/abc_DEF-123"
NBSP = "\N{NO-BREAK SPACE}"


@pytest.mark.parametrize(
    ("locale", "title", "text", "order", "paid", "footer"),
    [
        (
            "en",
            "Receipt: your order was delivered",
            "**CS2, 30 days** was delivered to your Neverlose account `darth`.",
            "Order",
            ("Paid", "20.00 EUR (manual payment)"),
            "Neverlose reseller shop",
        ),
        (
            "ru",
            "Чек: ваш заказ выдан",
            "**CS2, 30 дней** выдан на ваш аккаунт Neverlose `darth`.",
            "Заказ",
            ("Оплачено", f"20,00{NBSP}EUR (оплата вручную)"),
            "Магазин реселлера Neverlose",
        ),
    ],
)
def test_the_receipt_whole(locale: str, title: str, text: str, order: str, paid: tuple[str, str], footer: str) -> None:
    delivered = replace(ORDER, state=S.DELIVERED, updated_at=datetime(2026, 12, 7, 13, 5, tzinfo=UTC))
    assert rendering.receipt_embed(delivered, url=URL, locale=locale) == {
        "title": title,
        "url": URL,
        "description": text,
        "color": 0x2ECC71,
        "fields": [
            {"name": order, "value": f"[abc_DEF-123]({URL})", "inline": False},
            {"name": paid[0], "value": paid[1], "inline": True},
        ],
        "footer": {"text": footer},
        "timestamp": "2026-12-07T13:05:00+00:00",
    }


def _buttons(state: S, locale: str, requested_by: int | None = None) -> list[tuple[str, str, int]]:
    rows = rendering.card_components(replace(ORDER, state=state), requested_by=requested_by, locale=locale)
    assert all(row["type"] == 1 for row in rows)
    assert len(rows) <= 1
    return [(b["label"], b["custom_id"], b["style"]) for row in rows for b in row["components"]]


def test_the_cards_buttons_per_state_in_both_languages() -> None:
    oid = ORDER.id
    assert _buttons(S.AWAITING_PAYMENT, "en") == [
        ("Confirm payment", f"order:confirm:{oid}", 3),
        ("Reject", f"order:reject:{oid}", 4),
    ]
    assert _buttons(S.AWAITING_PAYMENT, "ru", requested_by=7) == [
        ("Одобрить оплату", f"order:approve:{oid}", 3),
        ("Отклонить", f"order:reject:{oid}", 4),
    ]
    assert _buttons(S.AWAITING_PAYMENT, "en", requested_by=7)[0] == ("Approve payment", f"order:approve:{oid}", 3)
    assert _buttons(S.AWAITING_PAYMENT, "ru")[0] == ("Подтвердить оплату", f"order:confirm:{oid}", 3)
    assert _buttons(S.EXPIRED, "en") == [("Confirm payment", f"order:confirm:{oid}", 3)]
    assert _buttons(S.NEEDS_ATTENTION, "en") == [
        ("Retry", f"order:retry:{oid}", 1),
        ("Mark refunded", f"order:refund:{oid}", 2),
    ]
    assert _buttons(S.NEEDS_ATTENTION, "ru") == [
        ("Повторить", f"order:retry:{oid}", 1),
        ("Отметить возврат", f"order:refund:{oid}", 2),
    ]
    assert _buttons(S.PAID, "en") == []


@pytest.mark.parametrize(
    ("actor", "english", "russian"),
    [
        ("staff:12", "<@12> (staff)", "<@12> (сотрудник)"),
        ("discord:34", "<@34>", "<@34>"),
        ("system", "system", "system"),
        ("staff:x", "staff:x", "staff:x"),
        ("discord:abc", "discord:abc", "discord:abc"),
        ("other:5", "other:5", "other:5"),
        ("a:staff:1", "a:staff:1", "a:staff:1"),
        ("a:discord:1", "a:discord:1", "a:discord:1"),
    ],
)
def test_the_actor_of_a_timeline_entry(actor: str, english: str, russian: str) -> None:
    assert rendering.actor_text(actor, "en") == english
    assert rendering.actor_text(actor, "ru") == russian


def test_buys_answer_placed_or_blocked_in_both_languages() -> None:
    blocked = replace(ORDER, check_status="blocked", check_reason="not_invited")
    assert rendering.placed_text(blocked, url="U", locale="ru") == (
        "Ваш заказ U сейчас нельзя оплатить: Этот аккаунт Neverlose пока не может получить этот товар "
        "(нужно приглашение)."
    )
    assert rendering.placed_text(blocked, url="U", locale="en") == (
        "Your order U cannot be paid right now: This Neverlose account cannot receive this product yet "
        "(it needs an invitation)."
    )
    assert rendering.placed_text(ORDER, url="U", locale="ru") == (
        "Ваш заказ **CS2, 30 дней** для `darth`: U\nОткройте его, чтобы оплатить."
    )


def test_a_page_of_orders_whole_in_both_languages() -> None:
    assert rendering.list_embed([ORDER], title="T", page=1, has_more=True, filters="F", locale="ru") == {
        "title": "T — страница 2",
        "description": "Фильтры: F\n"
        f"`abc_DEF-123` **ожидает оплаты** CS2, 30 дней → `darth` (20,00{NBSP}EUR (оплата вручную)) "
        "<t:1796644800:f>\nПродолжение на следующей странице.",
        "color": 0x3498DB,
        "footer": {"text": "Магазин реселлера Neverlose"},
    }
    assert rendering.list_embed([], title="T", page=0, has_more=False, locale="en") == {
        "title": "T — page 1",
        "description": "No orders match.",
        "color": 0x3498DB,
        "footer": {"text": "Neverlose reseller shop"},
    }


HISTORY = [
    Transition(ORDER.id, 1, None, S.AWAITING_PAYMENT, WHEN, "system", "payment claimed"),
    Transition(ORDER.id, 2, S.AWAITING_PAYMENT, S.PAID, WHEN, "staff:12", "payment confirmed (manual)"),
    Transition(ORDER.id, 3, S.PAID, S.PAID, WHEN, "discord:34", None),
]


def test_order_show_payment_and_timeline_fields_whole() -> None:
    paid = replace(ORDER, state=S.PAID)
    english = rendering.detail_embed(paid, HISTORY, payment_details={"invoice_id": "55"}, locale="en")
    assert english["fields"][-2:] == [
        {"name": "Buyer's payment (Manual payment)", "value": "Invoice: `55`", "inline": False},
        {
            "name": "Timeline",
            "value": "<t:1796644800:f> awaiting_payment by system — payment claimed\n"
            "<t:1796644800:f> awaiting_payment → paid by <@12> (staff) — payment confirmed (manual)\n"
            "<t:1796644800:f> paid by <@34>",
            "inline": False,
        },
    ]
    russian = rendering.detail_embed(paid, HISTORY, payment_details={"invoice_id": "55"}, locale="ru")
    assert russian["fields"][-2:] == [
        {"name": "Оплата покупателя (Оплата вручную)", "value": "Счёт: `55`", "inline": False},
        {
            "name": "История",
            "value": "<t:1796644800:f> ожидает оплаты, кто: system — покупатель сообщил об оплате\n"
            "<t:1796644800:f> ожидает оплаты → оплачен, кто: <@12> (сотрудник) — оплата подтверждена "
            "(Оплата вручную)\n<t:1796644800:f> оплачен, кто: <@34>",
            "inline": False,
        },
    ]
    without = rendering.detail_embed(paid, HISTORY, locale="en")
    assert [f["name"] for f in without["fields"]][-1] == "Timeline"
    assert "Buyer's payment" not in str(without)


FULL = replace(
    ORDER,
    state=S.NEEDS_ATTENTION,
    discord_user_id=5,
    payment_claimed_at=WHEN,
    claim_reference="bank ref 9",
    paid_by=6,
    request_id="rq-1",
    check_status="blocked",
    check_reason="low_balance",
    last_error="Not enough balance.",
    auto_retry=True,
    updated_at=datetime(2026, 12, 7, 13, 5, tzinfo=UTC),
)
"""An order with every optional line of its card: who ordered, the claim with its reference, who confirmed,
the request id, a block, Neverlose's refusal with the automatic retry."""


def _field(name: str, value: str, inline: bool = True) -> dict[str, object]:
    return {"name": name, "value": value, "inline": inline}


def test_the_whole_card_in_english() -> None:
    assert rendering.card_embed(FULL, locale="en") == {
        "title": "Order abc_DEF-123: Being looked at",
        "description": "Neverlose refused the delivery. Fix the cause and press **Retry**, or refund the customer "
        "by hand and press **Mark refunded**.",
        "color": 0xE74C3C,
        "fields": [
            _field("Product", "CS2, 30 days"),
            _field("Recipient", "`darth`"),
            _field("State", "needs_attention"),
            _field("Price", "20.00 EUR (manual payment)"),
            _field("Market cost", "17.10 NLE"),
            _field("Created", "<t:1796644800:f>"),
            _field("Ordered by", "<@5>"),
            _field("Customer says paid", "<t:1796644800:f> — reference `bank ref 9`", inline=False),
            _field("Payment confirmed by", "<@6>"),
            _field("Request id", "`rq-1`"),
            _field("Cannot be offered", "the Market balance is too low", inline=False),
            _field("Neverlose refused", "Not enough balance. Retried automatically when the balance allows.", False),
        ],
        "footer": {"text": "Neverlose reseller shop"},
        "timestamp": "2026-12-07T13:05:00+00:00",
    }


def test_the_whole_card_in_russian() -> None:
    assert rendering.card_embed(FULL, locale="ru") == {
        "title": "Заказ abc_DEF-123: На проверке у сотрудника",
        "description": "Neverlose отказал в выдаче. Устраните причину и нажмите **Повторить** или верните деньги "
        "покупателю вручную и нажмите **Отметить возврат**.",
        "color": 0xE74C3C,
        "fields": [
            _field("Товар", "CS2, 30 дней"),
            _field("Получатель", "`darth`"),
            _field("Статус", "нужно внимание"),
            _field("Цена", f"20,00{NBSP}EUR (оплата вручную)"),
            _field("Стоимость на маркете", f"17,10{NBSP}NLE"),
            _field("Создан", "<t:1796644800:f>"),
            _field("Заказал", "<@5>"),
            _field("Покупатель сообщил об оплате", "<t:1796644800:f> — номер платежа `bank ref 9`", inline=False),
            _field("Оплату подтвердил", "<@6>"),
            _field("Id запроса", "`rq-1`"),
            _field("Нельзя предложить", "на балансе маркета недостаточно средств", inline=False),
            _field("Neverlose отказал", "Not enough balance. Повтор автоматически, когда позволит баланс.", False),
        ],
        "footer": {"text": "Магазин реселлера Neverlose"},
        "timestamp": "2026-12-07T13:05:00+00:00",
    }


def test_a_card_waiting_for_a_second_staff_member() -> None:
    claimed = replace(ORDER, payment_claimed_at=WHEN)
    assert rendering.card_embed(claimed, requested_by=9, locale="ru")["fields"][-2:] == [
        _field("Покупатель сообщил об оплате", "<t:1796644800:f>", inline=False),
        _field(
            "Ждёт второго сотрудника",
            "<@9> подтвердил оплату; стоимость выше порога одобрения, поэтому другой сотрудник должен нажать "
            "**Одобрить оплату**.",
            inline=False,
        ),
    ]
    assert rendering.card_embed(claimed, locale="ru")["fields"][-1]["name"] == "Покупатель сообщил об оплате"


MANUAL_CHECK = (
    "Проверьте, что деньги пришли (номер заказа должен быть в комментарии к платежу), затем нажмите "
    "**Подтвердить оплату** или **Отклонить**, если ничего не пришло."
)
PAID = "Оплачен; бот выдаёт его через журнал трат."
CLOSED = "Закрыт без оплаты."
ATTENTION = (
    "Neverlose отказал в выдаче. Устраните причину и нажмите **Повторить** или верните деньги покупателю вручную "
    "и нажмите **Отметить возврат**."
)


@pytest.mark.parametrize(
    ("state", "manual", "other"),
    [
        (S.AWAITING_PAYMENT, MANUAL_CHECK, "Ждём оплату от покупателя."),
        (S.PAID, PAID, PAID),
        (S.FULFILLING, PAID, PAID),
        (S.DELIVERED, "Выдан. Делать больше ничего не нужно.", "Выдан. Делать больше ничего не нужно."),
        (
            S.EXPIRED,
            MANUAL_CHECK + " Заказ тем временем истёк; пришедшая оплата всё равно засчитывается.",
            CLOSED,
        ),
        (S.CANCELLED, CLOSED, CLOSED),
        (S.NEEDS_ATTENTION, ATTENTION, ATTENTION),
        (S.REFUNDED, "Деньги возвращены вручную.", "Деньги возвращены вручную."),
    ],
)
def test_what_staff_do_next_per_state_and_method(state: S, manual: str, other: str) -> None:
    assert rendering.card_embed(replace(ORDER, state=state), locale="ru")["description"] == manual
    assert rendering.card_embed(replace(ORDER, state=state, method=None), locale="ru")["description"] == other
