"""Orders in Discord's words: the orders-channel card, its buttons, list lines, details and the DM receipt.

Pure functions over :class:`~bot.orders.models.Order` returning embed and component dicts (JSON, as the
outbox stores them); the cogs turn them into ``discord.Embed`` with ``Embed.from_dict``. Every text is bounded
to Discord's limits (embed title 256, field value 1024, description 4096; at most 25 fields).

Buttons (persistent, matched by the cogs' ``DynamicItem`` templates, so they work after a restart):
``order:confirm:<id>``, ``order:approve:<id>`` (the second staff member's confirmation), ``order:reject:<id>``,
``order:retry:<id>``, ``order:refund:<id>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.i18n import DEFAULT_LOCALE, catalogs, money, t
from bot.notifications.cards import Component, action_row, button
from bot.notifications.embeds import MAX_FIELD_VALUE, MAX_TITLE, Embed, truncate
from bot.orders import localized
from bot.orders.models import Order, OrderState, Transition
from bot.orders.payment_details import details_lines
from bot.shop.catalog import PaymentMethod
from bot.staff.recorded import note_in

CONFIRM = "confirm"
APPROVE = "approve"
REJECT = "reject"
RETRY = "retry"
REFUND = "refund"
ACTIONS = (CONFIRM, APPROVE, REJECT, RETRY, REFUND)
CUSTOM_ID_PATTERN = r"order:(?P<action>confirm|approve|reject|retry|refund):(?P<id>[A-Za-z0-9_-]{1,64})"

COLOURS = {
    OrderState.AWAITING_PAYMENT: 0xF1C40F,
    OrderState.PAID: 0x3498DB,
    OrderState.FULFILLING: 0x3498DB,
    OrderState.DELIVERED: 0x2ECC71,
    OrderState.EXPIRED: 0x95A5A6,
    OrderState.CANCELLED: 0x95A5A6,
    OrderState.NEEDS_ATTENTION: 0xE74C3C,
    OrderState.REFUNDED: 0x9B59B6,
}
MAX_LIST_DESCRIPTION = 4096


def footer(locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    return {"text": t(locale, "orders.footer")}


def custom_id(action: str, order_id: str) -> str:
    return f"order:{action}:{order_id}"


def format_nle(amount: Decimal, locale: str = DEFAULT_LOCALE) -> str:
    return money(amount, "NLE", locale)


def price_text(order: Order, locale: str = DEFAULT_LOCALE) -> str:
    """``20.00 EUR (manual payment)`` / ``not chosen yet``."""
    if order.amount is None or order.currency is None:
        return t(locale, "orders.price.not_chosen")
    amount = money(order.amount, order.currency, locale)
    if order.method is None:
        return amount
    return t(locale, "orders.price.with_method", amount=amount, method=t(locale, f"orders.method.lower.{order.method}"))


def _when(moment: datetime) -> str:
    return f"<t:{int(moment.astimezone(UTC).timestamp())}:f>"


def actor_text(actor: str, locale: str = DEFAULT_LOCALE) -> str:
    """``staff:1`` → ``<@1> (staff)``; ``discord:1`` → ``<@1>``; others as they are."""
    kind, _, rest = actor.partition(":")
    if kind == "staff" and rest.isdigit():
        return t(locale, "orders.actor.staff", mention=f"<@{rest}>")
    if kind == "discord" and rest.isdigit():
        return f"<@{rest}>"
    return actor


def awaiting_second(order: Order, requested_by: int | None) -> bool:
    """A confirmation above the approval threshold waits for a second staff member."""
    return requested_by is not None and order.state in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED)


def card_embed(order: Order, *, requested_by: int | None = None, locale: str = DEFAULT_LOCALE) -> Embed:
    """The card in the orders channel: what, for whom, price, cost, state and what staff can do."""

    def field(name: str, value: str, *, inline: bool = True) -> dict[str, Any]:
        return {"name": t(locale, f"orders.field.{name}"), "value": value, "inline": inline}

    fields = [
        field("product", localized.description(order, locale)),
        field("recipient", f"`{order.login}`"),
        field("state", localized.state_choice(order.state, locale)),
        field("price", price_text(order, locale)),
        field("cost", format_nle(order.nle_cost, locale)),
        field("created", _when(order.created_at)),
    ]
    if order.discord_user_id is not None:
        fields.append(field("ordered_by", f"<@{order.discord_user_id}>"))
    if order.payment_claimed_at is not None:
        claimed = _when(order.payment_claimed_at)
        if order.claim_reference:
            reference = f"`{truncate(order.claim_reference, 100)}`"
            claimed = t(locale, "orders.field.claimed_reference", when=claimed, reference=reference)
        fields.append(field("claimed", claimed, inline=False))
    if order.paid_by is not None:
        fields.append(field("confirmed_by", f"<@{order.paid_by}>"))
    if order.request_id is not None:
        fields.append(field("request_id", f"`{order.request_id}`"))
    if order.check_status == "blocked" and order.check_reason:
        fields.append(field("blocked", _block_text(order.check_reason, locale), inline=False))
    if order.last_error and order.state is OrderState.NEEDS_ATTENTION:
        retry = " " + t(locale, "orders.field.auto_retry") if order.auto_retry else ""
        error = catalogs().localize_english(locale, order.last_error, "orders.last_error.", warn=False)
        fields.append(field("refused", truncate(error, 900) + retry, inline=False))
    if awaiting_second(order, requested_by):
        approve = t(locale, "orders.button.approve")
        text = t(locale, "orders.field.second_text", mention=f"<@{requested_by}>", button=approve)
        fields.append(field("second", text, inline=False))
    title = t(locale, "orders.card.title", id=order.id, state=localized.state_label(order.state, locale))
    return {
        "title": truncate(title, MAX_TITLE),
        "description": _next_step(order, locale),
        "color": COLOURS[order.state],
        "fields": fields,
        "footer": footer(locale),
        "timestamp": order.updated_at.astimezone(UTC).isoformat(timespec="seconds"),
    }


def _block_text(reason: str, locale: str = DEFAULT_LOCALE) -> str:
    if reason in localized.BLOCK_REASONS:
        return t(locale, f"orders.staff_block.{reason}")
    return reason


def _next_step(order: Order, locale: str = DEFAULT_LOCALE) -> str:
    state = order.state
    if state in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED) and order.method is PaymentMethod.MANUAL:
        text = t(
            locale,
            "orders.next.manual",
            confirm=t(locale, "orders.button.confirm"),
            reject=t(locale, "orders.button.reject"),
        )
        return text + " " + t(locale, "orders.next.manual_expired") if state is OrderState.EXPIRED else text
    if state is OrderState.AWAITING_PAYMENT:
        return t(locale, "orders.next.awaiting")
    if state in (OrderState.PAID, OrderState.FULFILLING):
        return t(locale, "orders.next.paid")
    if state is OrderState.DELIVERED:
        return t(locale, "orders.next.delivered")
    if state is OrderState.NEEDS_ATTENTION:
        return t(
            locale,
            "orders.next.attention",
            retry=t(locale, "orders.button.retry"),
            refunded=t(locale, "orders.button.refunded"),
        )
    if state is OrderState.REFUNDED:
        return t(locale, "orders.next.refunded")
    return t(locale, "orders.next.closed")


def card_components(order: Order, *, requested_by: int | None = None, locale: str = DEFAULT_LOCALE) -> list[Component]:
    """The card's buttons for the order's state (none once nothing is left to do)."""
    state = order.state

    def label(name: str) -> str:
        return t(locale, f"orders.button.{name}")

    if state in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED) and order.method is PaymentMethod.MANUAL:
        if awaiting_second(order, requested_by):
            first = button(label("approve"), custom_id(APPROVE, order.id), style="success")
        else:
            first = button(label("confirm"), custom_id(CONFIRM, order.id), style="success")
        if state is OrderState.EXPIRED:
            return [action_row(first)]
        return [action_row(first, button(label("reject"), custom_id(REJECT, order.id), style="danger"))]
    if state is OrderState.NEEDS_ATTENTION:
        return [
            action_row(
                button(label("retry"), custom_id(RETRY, order.id), style="primary"),
                button(label("refunded"), custom_id(REFUND, order.id), style="secondary"),
            )
        ]
    return []


def wants_card(order: Order) -> bool:
    """Whether the order has a card: from the moment the customer says they paid, or once it is paid (by a
    provider) or beyond. Links opened and abandoned (unpaid, never claimed, then expired or cancelled) stay
    out of the channel. Decided from the order alone, so the hook needs no query to know."""
    if order.payment_claimed_at is not None:
        return True
    return order.state not in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED, OrderState.CANCELLED)


def order_line(order: Order, locale: str = DEFAULT_LOCALE) -> str:
    """One line of a list: id, state, what, for whom, when."""
    state = localized.state_choice(order.state, locale)
    return (
        f"`{order.id}` **{state}** {localized.description(order, locale)} → `{order.login}` "
        f"({price_text(order, locale)}) {_when(order.created_at)}"
    )


def filters_text(state: str | None, login: str | None, days: int | None, locale: str = DEFAULT_LOCALE) -> str:
    """``/orders list``'s filters in words: ``state cancelled, login darth, last 1 day`` (empty for none)."""
    parts = (
        t(locale, "orders.filters.state", state=t(locale, f"choice.{state}")) if state else "",
        t(locale, "orders.filters.login", login=login) if login else "",
        t(locale, "orders.filters.days", count=days) if days else "",
    )
    return ", ".join(part for part in parts if part)


def list_embed(
    orders: Sequence[Order],
    *,
    title: str,
    page: int,
    has_more: bool,
    filters: str = "",
    locale: str = DEFAULT_LOCALE,
) -> Embed:
    """A page of orders (``page`` 0-based): title ``<title> — page N``, one line per order."""
    lines = [order_line(o, locale) for o in orders] or [t(locale, "orders.list.none")]
    if filters:
        lines.insert(0, t(locale, "orders.list.filters", filters=filters))
    if has_more:
        lines.append(t(locale, "orders.list.more"))
    return {
        "title": truncate(t(locale, "orders.list.title", title=title, page=page + 1), MAX_TITLE),
        "description": truncate("\n".join(lines), MAX_LIST_DESCRIPTION),
        "color": 0x3498DB,
        "footer": footer(locale),
    }


def mine_embed(orders: Sequence[Order], *, url_of: Callable[[str], str], locale: str = DEFAULT_LOCALE) -> Embed:
    """``/orders mine``: one linked line per order (``url_of(order id)`` is its page)."""
    lines = [
        f"[{o.id}]({url_of(o.id)}) **{localized.state_label(o.state, locale)}** "
        f"{localized.description(o, locale)} → `{o.login}`"
        for o in orders
    ]
    return {
        "title": t(locale, "orders.mine.title"),
        "description": truncate("\n".join(lines), MAX_LIST_DESCRIPTION),
        "color": 0x3498DB,
    }


def placed_text(order: Order, *, url: str, locale: str = DEFAULT_LOCALE) -> str:
    """``/buy``'s answer: the order page to pay on, or why the order cannot be paid now."""
    if order.check_status == "blocked" and order.check_reason:
        return t(locale, "orders.placed.blocked", url=url, reason=localized.blocked_text(order.check_reason, locale))
    product = localized.description(order, locale)
    return t(locale, "orders.placed.ok", product=product, login=order.login, url=url)


def detail_embed(
    order: Order,
    history: Sequence[Transition],
    *,
    requested_by: int | None = None,
    payment_details: Mapping[str, str] | None = None,
    locale: str = DEFAULT_LOCALE,
) -> Embed:
    """``/order show``: the card, the buyer's payment (when its provider reported one) and the timeline (newest
    15 entries)."""
    embed = card_embed(order, requested_by=requested_by, locale=locale)
    if payment_details is not None:
        method = (
            localized.method_label(order.method, locale)
            if order.method is not None
            else t(locale, "orders.detail.provider")
        )
        embed["fields"] = [
            *embed["fields"],
            {
                "name": t(locale, "orders.detail.payment", method=method),
                "value": truncate("\n".join(details_lines(order, payment_details, locale)), MAX_FIELD_VALUE),
                "inline": False,
            },
        ]
    lines = []
    for entry in history[-15:]:
        to_state = localized.state_choice(entry.to_state, locale)
        move = to_state
        if entry.from_state is not None and entry.from_state is not entry.to_state:
            move = f"{localized.state_choice(entry.from_state, locale)} → {to_state}"
        note = f" — {truncate(note_in(entry.note, locale), 120)}" if entry.note else ""
        actor = actor_text(entry.actor, locale)
        lines.append(t(locale, "orders.detail.line", when=_when(entry.at), move=move, actor=actor, note=note))
    timeline = {
        "name": t(locale, "orders.detail.timeline"),
        "value": truncate("\n".join(lines), MAX_FIELD_VALUE),
        "inline": False,
    }
    embed["fields"] = [*embed["fields"], timeline]
    return embed


def receipt_embed(order: Order, *, url: str, locale: str = DEFAULT_LOCALE) -> Embed:
    """The DM a linked customer gets once their order is delivered."""
    product = localized.description(order, locale)
    return {
        "title": t(locale, "orders.receipt.title"),
        "url": url,
        "description": t(locale, "orders.receipt.text", product=product, login=order.login),
        "color": COLOURS[OrderState.DELIVERED],
        "fields": [
            {"name": t(locale, "orders.receipt.order"), "value": f"[{order.id}]({url})", "inline": False},
            {"name": t(locale, "orders.receipt.paid"), "value": price_text(order, locale), "inline": True},
        ],
        "footer": footer(locale),
        "timestamp": order.updated_at.astimezone(UTC).isoformat(timespec="seconds"),
    }
