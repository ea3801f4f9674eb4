"""The orders feature's Discord output, written by a transition hook in the transaction of every change.

* The **card** in the orders channel (``/setup notifications kind:orders``): one message per order, queued as
  a card row of the outbox (``card:orders:<order id>``, version = the change's ``seq``), so the dispatcher
  posts it once and edits it on every later change (see :mod:`bot.notifications.cards`). An order has a card
  from the moment it deserves staff attention (:func:`~bot.orders.rendering.wants_card`, which stays true
  from then on); every change from then on updates it.
* The **DM receipt** to the customer when the order is delivered: to the Discord member who ordered it with
  ``/buy``, or else to the member whose linked Neverlose account is the recipient (``bot.linking``).

A confirmation above the approval threshold waiting for a second staff member is an order *event* (a history
entry that does not move the state) whose note is :data:`APPROVAL_NOTE`; :func:`pending_approval` finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import aiosqlite

from bot.guild_config import ChannelKind
from bot.i18n import DEFAULT_LOCALE
from bot.i18n.preferences import member_locale_on
from bot.linking.links import find_by_login
from bot.notifications.outbox import OutboxMessage, card_row, insert_rows, prepare_rows
from bot.orders import rendering
from bot.orders.models import Order, OrderState, Transition, staff_id
from bot.storage.timestamps import parse_timestamp

log = logging.getLogger(__name__)

APPROVAL_NOTE = "payment confirmation waits for a second staff member"


def pending_approval(history: Sequence[Transition]) -> int | None:
    """The staff member whose confirmation waits for a second one: the newest approval event since the last
    change of state; ``None`` when there is none."""
    for entry in reversed(history):
        if entry.from_state is not entry.to_state:
            return None
        if entry.note == APPROVAL_NOTE:
            return staff_id(entry.actor)
    return None


async def history_on(conn: aiosqlite.Connection, order_id: str) -> list[Transition]:
    """The order's history read on an open connection (inside a hook)."""
    async with conn.execute(
        "SELECT order_id, seq, from_state, to_state, at, actor, note FROM order_transitions "
        "WHERE order_id = ? ORDER BY seq",
        (order_id,),
    ) as cur:
        rows = await cur.fetchall()
    return [
        Transition(
            order_id=str(r[0]),
            seq=int(r[1]),
            from_state=None if r[2] is None else OrderState(r[2]),
            to_state=OrderState(r[3]),
            at=parse_timestamp(str(r[4])),
            actor=str(r[5]),
            note=None if r[6] is None else str(r[6]),
        )
        for r in rows
    ]


class OrderCards:
    """The transition hook (:meth:`on_transition`) and the dispatcher's wake after commit."""

    def __init__(
        self,
        *,
        order_url: Callable[[str], str],
        wake: Callable[[], None] = lambda: None,
        channel_locale: Callable[[], str] = lambda: DEFAULT_LOCALE,
    ) -> None:
        self._order_url = order_url
        self._wake = wake
        self._channel_locale = channel_locale  # the card's language; a receipt is in its recipient's

    async def on_transition(self, conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        """``OrderService.add_transition_hook``: queue the card (and the receipt) in the change's transaction."""
        rows: list[OutboxMessage] = []
        try:
            if rendering.wants_card(order):
                requested_by = None
                if transition.from_state is transition.to_state:  # an event: an approval may be waiting
                    requested_by = pending_approval(await history_on(conn, order.id))
                rows.append(
                    card_row(
                        ChannelKind.ORDERS,
                        order.id,
                        version=str(transition.seq),
                        embeds=[rendering.card_embed(order, requested_by=requested_by, locale=self._channel_locale())],
                        components=rendering.card_components(
                            order, requested_by=requested_by, locale=self._channel_locale()
                        ),
                    )
                )
            if transition.to_state is OrderState.DELIVERED and transition.from_state is not OrderState.DELIVERED:
                receipt = await self._receipt(conn, order)
                if receipt is not None:
                    rows.append(receipt)
            prepared = prepare_rows(rows)  # Discord's limits, checked before anything is written
        except ValueError:
            # A message Discord would refuse must never hold the order back (the hook's failure would roll
            # the change back): the change goes on without its Discord output, and the log says so.
            log.exception("order card not queued order_id=%s seq=%d", order.id, transition.seq)
            return
        if prepared:
            await insert_rows(conn, prepared)
            self._wake()  # early is harmless: the dispatcher only sees committed rows, and polls

    async def _receipt(self, conn: aiosqlite.Connection, order: Order) -> OutboxMessage | None:
        user_id = order.discord_user_id
        if user_id is None:
            link = await find_by_login(conn, order.login)
            user_id = None if link is None else link.discord_user_id
        if user_id is None:
            log.debug("order receipt skipped: recipient not linked order_id=%s", order.id)
            return None
        log.info("order receipt queued order_id=%s user=%d", order.id, user_id)
        locale = await member_locale_on(conn, user_id) or self._channel_locale()
        return OutboxMessage(
            target=f"dm:{user_id}",
            embeds=[rendering.receipt_embed(order, url=self._order_url(order.id), locale=locale)],
            dedupe_key=f"order-receipt:{order.id}",
        )
