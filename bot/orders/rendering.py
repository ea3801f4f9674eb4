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

from bot.notifications.cards import Component, action_row, button
from bot.notifications.embeds import Embed
from bot.orders.models import Order, OrderState, Transition
from bot.orders.payment_details import details_lines
from bot.orders.prechecks import BlockReason
from bot.shop.catalog import PaymentMethod

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
FOOTER = {"text": "Neverlose reseller shop"}
MAX_LIST_DESCRIPTION = 4096


def custom_id(action: str, order_id: str) -> str:
    return f"order:{action}:{order_id}"


def format_nle(amount: Decimal) -> str:
    return f"{amount:,.2f} NLE"


def price_text(order: Order) -> str:
    """``20.00 EUR (manual payment)`` / ``not chosen yet``."""
    if order.amount is None or order.currency is None:
        return "not chosen yet"
    method = f" ({order.method.label.lower()})" if order.method is not None else ""
    return f"{order.amount:,.2f} {order.currency}{method}"


def _when(moment: datetime) -> str:
    return f"<t:{int(moment.astimezone(UTC).timestamp())}:f>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def actor_text(actor: str) -> str:
    """``staff:1`` → ``<@1> (staff)``; ``discord:1`` → ``<@1>``; others as they are."""
    kind, _, rest = actor.partition(":")
    if kind == "staff" and rest.isdigit():
        return f"<@{rest}> (staff)"
    if kind == "discord" and rest.isdigit():
        return f"<@{rest}>"
    return actor


def awaiting_second(order: Order, requested_by: int | None) -> bool:
    """A confirmation above the approval threshold waits for a second staff member."""
    return requested_by is not None and order.state in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED)


def card_embed(order: Order, *, requested_by: int | None = None) -> Embed:
    """The card in the orders channel: what, for whom, price, cost, state and what staff can do."""
    fields = [
        {"name": "Product", "value": order.description, "inline": True},
        {"name": "Recipient", "value": f"`{order.login}`", "inline": True},
        {"name": "State", "value": order.state.value, "inline": True},
        {"name": "Price", "value": price_text(order), "inline": True},
        {"name": "Market cost", "value": format_nle(order.nle_cost), "inline": True},
        {"name": "Created", "value": _when(order.created_at), "inline": True},
    ]
    if order.discord_user_id is not None:
        fields.append({"name": "Ordered by", "value": f"<@{order.discord_user_id}>", "inline": True})
    if order.payment_claimed_at is not None:
        reference = f" — reference `{_clip(order.claim_reference, 100)}`" if order.claim_reference else ""
        fields.append(
            {"name": "Customer says paid", "value": _when(order.payment_claimed_at) + reference, "inline": False}
        )
    if order.paid_by is not None:
        fields.append({"name": "Payment confirmed by", "value": f"<@{order.paid_by}>", "inline": True})
    if order.request_id is not None:
        fields.append({"name": "Request id", "value": f"`{order.request_id}`", "inline": True})
    if order.check_status == "blocked" and order.check_reason:
        fields.append({"name": "Cannot be offered", "value": _block_text(order.check_reason), "inline": False})
    if order.last_error and order.state is OrderState.NEEDS_ATTENTION:
        retry = " Retried automatically when the balance allows." if order.auto_retry else ""
        fields.append({"name": "Neverlose refused", "value": _clip(order.last_error, 900) + retry, "inline": False})
    if awaiting_second(order, requested_by):
        fields.append(
            {
                "name": "Waiting for a second staff member",
                "value": f"<@{requested_by}> confirmed the payment; the cost is above the approval threshold, so "
                "a different staff member must press **Approve payment**.",
                "inline": False,
            }
        )
    return {
        "title": _clip(f"Order {order.id}: {order.state.label}", 256),
        "description": _next_step(order),
        "color": COLOURS[order.state],
        "fields": fields,
        "footer": FOOTER,
        "timestamp": order.updated_at.astimezone(UTC).isoformat(timespec="seconds"),
    }


def _block_text(reason: str) -> str:
    try:
        return BlockReason(reason).staff_text
    except ValueError:
        return reason


def _next_step(order: Order) -> str:
    state = order.state
    if state in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED) and order.method is PaymentMethod.MANUAL:
        expired = (
            " The order expired meanwhile; a payment that arrived still counts." if state is OrderState.EXPIRED else ""
        )
        return (
            "Check that the money arrived (the order number should be in the payment's comment), then press "
            f"**Confirm payment**, or **Reject** when nothing came.{expired}"
        )
    if state is OrderState.AWAITING_PAYMENT:
        return "Waiting for the customer's payment."
    if state in (OrderState.PAID, OrderState.FULFILLING):
        return "Paid; the bot is delivering it through the spending journal."
    if state is OrderState.DELIVERED:
        return "Delivered. Nothing left to do."
    if state is OrderState.NEEDS_ATTENTION:
        return (
            "Neverlose refused the delivery. Fix the cause and press **Retry**, or refund the customer by hand "
            "and press **Mark refunded**."
        )
    if state is OrderState.REFUNDED:
        return "Refunded by hand."
    return "Closed without payment."


def card_components(order: Order, *, requested_by: int | None = None) -> list[Component]:
    """The card's buttons for the order's state (none once nothing is left to do)."""
    state = order.state
    if state in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED) and order.method is PaymentMethod.MANUAL:
        if awaiting_second(order, requested_by):
            first = button("Approve payment", custom_id(APPROVE, order.id), style="success")
        else:
            first = button("Confirm payment", custom_id(CONFIRM, order.id), style="success")
        if state is OrderState.EXPIRED:
            return [action_row(first)]
        return [action_row(first, button("Reject", custom_id(REJECT, order.id), style="danger"))]
    if state is OrderState.NEEDS_ATTENTION:
        return [
            action_row(
                button("Retry", custom_id(RETRY, order.id), style="primary"),
                button("Mark refunded", custom_id(REFUND, order.id), style="secondary"),
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


def order_line(order: Order) -> str:
    """One line of a list: id, state, what, for whom, when."""
    return (
        f"`{order.id}` **{order.state.value}** {order.description} → `{order.login}` "
        f"({price_text(order)}) {_when(order.created_at)}"
    )


def filters_text(state: str | None, login: str | None, days: int | None) -> str:
    """``/orders list``'s filters in words: ``state cancelled, login darth, last 1 day(s)`` (empty for none)."""
    parts = (
        f"state {state}" if state else "",
        f"login {login}" if login else "",
        f"last {days} day(s)" if days else "",
    )
    return ", ".join(part for part in parts if part)


def list_embed(orders: Sequence[Order], *, title: str, page: int, has_more: bool, filters: str = "") -> Embed:
    """A page of orders (``page`` 0-based): title ``<title> — page N``, one line per order."""
    lines = [order_line(o) for o in orders] or ["No orders match."]
    if filters:
        lines.insert(0, f"Filters: {filters}")
    if has_more:
        lines.append("More on the next page.")
    return {
        "title": _clip(f"{title} — page {page + 1}", 256),
        "description": _clip("\n".join(lines), MAX_LIST_DESCRIPTION),
        "color": 0x3498DB,
        "footer": FOOTER,
    }


def mine_embed(orders: Sequence[Order], *, url_of: Callable[[str], str]) -> Embed:
    """``/orders mine``: one linked line per order (``url_of(order id)`` is its page)."""
    lines = [f"[{o.id}]({url_of(o.id)}) **{o.state.label}** {o.description} → `{o.login}`" for o in orders]
    return {"title": "Your orders", "description": _clip("\n".join(lines), MAX_LIST_DESCRIPTION), "color": 0x3498DB}


NO_ORDERS_YET = "You have no orders yet. Use `/buy` to place one."


def placed_text(order: Order, *, url: str) -> str:
    """``/buy``'s answer: the order page to pay on, or why the order cannot be paid now."""
    if order.check_status == "blocked" and order.check_reason:
        return f"Your order {url} cannot be paid right now: {BlockReason(order.check_reason).customer_text}"
    return f"Your order for **{order.description}** to `{order.login}`: {url}\nOpen it to pay."


def detail_embed(
    order: Order,
    history: Sequence[Transition],
    *,
    requested_by: int | None = None,
    payment_details: Mapping[str, str] | None = None,
) -> Embed:
    """``/order show``: the card, the buyer's payment (when its provider reported one) and the timeline (newest
    15 entries)."""
    embed = card_embed(order, requested_by=requested_by)
    if payment_details is not None:
        method = order.method.label if order.method is not None else "provider"
        embed["fields"] = [
            *embed["fields"],
            {
                "name": f"Buyer's payment ({method})",
                "value": _clip("\n".join(details_lines(order, payment_details)), 1024),
                "inline": False,
            },
        ]
    lines = []
    for t in history[-15:]:
        move = t.to_state.value if t.from_state in (None, t.to_state) else f"{t.from_state.value} → {t.to_state.value}"
        note = f" — {_clip(t.note, 120)}" if t.note else ""
        lines.append(f"{_when(t.at)} {move} by {actor_text(t.actor)}{note}")
    embed["fields"] = [*embed["fields"], {"name": "Timeline", "value": _clip("\n".join(lines), 1024), "inline": False}]
    return embed


def receipt_embed(order: Order, *, url: str) -> Embed:
    """The DM a linked customer gets once their order is delivered."""
    return {
        "title": "Receipt: your order was delivered",
        "url": url,
        "description": f"**{order.description}** was delivered to your Neverlose account `{order.login}`.",
        "color": COLOURS[OrderState.DELIVERED],
        "fields": [
            {"name": "Order", "value": f"[{order.id}]({url})", "inline": False},
            {"name": "Paid", "value": price_text(order), "inline": True},
        ],
        "footer": FOOTER,
        "timestamp": order.updated_at.astimezone(UTC).isoformat(timespec="seconds"),
    }
