"""What a link is for: receipts by DM and role grants, queued through the notifications outbox.

* :meth:`ReceiptHooks.on_events` — a webhook fan-out hook: a NEW purchase by a linked login queues a DM
  receipt and the mapped role grants, inside the transaction that stores the event (synchronous SQL on the
  webhook store's writer thread).
* :meth:`ReceiptHooks.on_spending` — a spending success hook: a gift, item or transfer sent by staff to a
  linked login queues a DM to the recipient, plus role grants for gifts and items.
* :meth:`ReceiptHooks.on_linked` — a link hook: the member gets a DM confirming the new link.

Unlinked logins are skipped silently (debug log only). Delivery, retries and undeliverable DMs or roles are
the outbox's business (counted in ``/webhook status``), never this module's.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

import aiosqlite

from bot.i18n import DEFAULT_LOCALE, t
from bot.i18n.preferences import member_locale_on, member_locales_sync
from bot.linking.links import Link, find_by_login, find_by_logins_sync
from bot.linking.roles import RoleKey, RoleMapping, roles_for, roles_for_sync
from bot.market.journal import Operation, OperationStatus
from bot.market.models import Plan, Product
from bot.notifications.embeds import Embed, format_nle, item_url
from bot.notifications.outbox import Outbox, OutboxMessage
from bot.storage import Database
from bot.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

COLOR_RECEIPT = 0x2ECC71
COLOR_GIFT = 0x9B59B6
COLOR_LINKED = 0x3498DB

GIFT_METHOD = "gift-product"
GIVE_METHOD = "give-for-free"
TRANSFER_METHOD = "transfer-money"


def _footer(locale: str) -> dict[str, str]:
    return {"text": t(locale, "receipt.footer")}


def purchase_receipt(event: WebhookEvent, link: Link, locale: str = DEFAULT_LOCALE) -> Embed:
    item = event.item_id or "?"
    url = item_url(item)
    return {
        "title": t(locale, "receipt.purchase.title"),
        "url": url,
        "description": t(locale, "receipt.purchase.text", login=link.neverlose_login),
        "color": COLOR_RECEIPT,
        "fields": [
            {"name": t(locale, "receipt.field.item"), "value": f"[{item}]({url})", "inline": True},
            {"name": t(locale, "receipt.field.amount"), "value": format_nle(event.amount), "inline": True},
            {"name": t(locale, "receipt.field.purchase"), "value": str(event.unique_id), "inline": True},
        ],
        "footer": _footer(locale),
        "timestamp": event.received_at.isoformat(timespec="seconds"),
    }


def _what_was_sent(op: Operation) -> Callable[[str], str] | None:
    """What the operation sent, told in a given language (``CS2, 30 days`` / ``item E3yugw`` / ``12.5 NLE``);
    ``None`` for a method that sends nothing or unexpected params. The params are read once, here."""
    params = op.params
    try:
        if op.method == GIFT_METHOD:
            product = Product(params["product"]).label
            days = Plan(int(params["cnt"])).days
            return lambda locale: t(locale, "product.plan", product=product, count=days)
        if op.method == GIVE_METHOD:
            code = params["code"]
            return lambda locale: t(locale, "receipt.item", code=code)
        if op.method == TRANSFER_METHOD:
            amount = format_nle(Decimal(str(params.get("amount", op.amount_nle))))
            return lambda _locale: amount
    except (KeyError, ValueError, InvalidOperation):
        log.warning("receipt skipped: unexpected params operation=%s method=%s", op.id, op.method)
    return None


def staff_gift_notice(op: Operation, link: Link, what: str, locale: str = DEFAULT_LOCALE) -> Embed:
    return {
        "title": t(locale, "receipt.gift.title" if op.method != TRANSFER_METHOD else "receipt.nle.title"),
        "description": t(locale, "receipt.gift.text", what=what, login=link.neverlose_login),
        "color": COLOR_GIFT,
        "fields": [{"name": t(locale, "receipt.field.reference"), "value": op.request_id, "inline": True}],
        "footer": _footer(locale),
        "timestamp": op.updated_at.isoformat(timespec="seconds"),
    }


def linked_notice(link: Link, locale: str = DEFAULT_LOCALE) -> Embed:
    return {
        "title": t(locale, "receipt.linked.title"),
        "description": t(locale, "receipt.linked.text", login=link.neverlose_login),
        "color": COLOR_LINKED,
        "footer": _footer(locale),
    }


def _role_key_for(op: Operation) -> tuple[RoleKey, str] | None:
    if op.method == GIFT_METHOD and isinstance(op.params.get("product"), str):
        return RoleKey.PRODUCT, op.params["product"]
    if op.method == GIVE_METHOD and isinstance(op.params.get("code"), str):
        return RoleKey.ITEM, op.params["code"]
    return None


def role_grant(link: Link, mapping: RoleMapping, *, source: str) -> OutboxMessage:
    """The outbox row granting ``mapping``'s role to the linked member (one per source and role)."""
    return OutboxMessage(
        target=f"role:{mapping.guild_id}:{link.discord_user_id}:{mapping.role_id}",
        embeds=[],
        dedupe_key=f"linking:role:{source}:{mapping.guild_id}:{mapping.role_id}",
    )


class ReceiptHooks:
    """The hooks above, sharing the outbox and the dispatcher's ``wake``."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        *,
        wake: Callable[[], None] = lambda: None,
        locale: Callable[[], str] = lambda: DEFAULT_LOCALE,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._wake = wake
        self._locale = locale  # for members whose language the bot has not seen yet

    async def _grant_roles(
        self, conn: aiosqlite.Connection, link: Link, kind: RoleKey, key: str, *, source: str
    ) -> int:
        grants = [role_grant(link, mapping, source=source) for mapping in await roles_for(conn, kind, key)]
        return await self._outbox.enqueue_many(conn, grants)

    def on_events(self, conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        """Webhook fan-out hook (synchronous, inside the transaction that stores the events)."""
        purchases = [event for event in events if event.kind == "purchase"]
        links = find_by_logins_sync(conn, (event.username for event in purchases)) if purchases else {}
        # One look-up for every linked buyer of the batch, not one per purchase.
        locales = member_locales_sync(conn, {link.discord_user_id for link in links.values()}) if links else {}
        for event in purchases:
            link = links.get(event.username.lower())
            if link is None:
                log.debug("receipt skipped: buyer not linked unique_id=%d", event.unique_id)
                continue
            locale = locales.get(link.discord_user_id) or self._locale()
            receipt = OutboxMessage(
                target=f"dm:{link.discord_user_id}",
                embeds=[purchase_receipt(event, link, locale)],
                dedupe_key=f"linking:receipt:purchase:{event.unique_id}",
            )
            self._outbox.enqueue_sync(conn, [receipt])
            roles = 0
            if event.item_id is not None:
                source = f"purchase:{event.unique_id}"
                grants = [role_grant(link, m, source=source) for m in roles_for_sync(conn, RoleKey.ITEM, event.item_id)]
                roles = self._outbox.enqueue_sync(conn, grants)
            log.info(
                "receipt queued kind=purchase unique_id=%d user=%d roles=%d",
                event.unique_id,
                link.discord_user_id,
                roles,
            )

    async def on_spending(self, op: Operation) -> None:
        """Spending success hook: DM a linked recipient, grant roles for gifts and items."""
        username = op.username
        if op.status is not OperationStatus.SUCCEEDED or username is None:
            return
        sent = _what_was_sent(op)
        if sent is None:
            return
        async with self._db.transaction() as conn:
            link = await find_by_login(conn, username)
            if link is None:
                log.debug("gift notice skipped: recipient not linked operation=%s", op.id)
                return
            locale = await member_locale_on(conn, link.discord_user_id) or self._locale()
            what = sent(locale)
            await self._outbox.enqueue(
                conn,
                target=f"dm:{link.discord_user_id}",
                embeds=[staff_gift_notice(op, link, what, locale)],
                dedupe_key=f"linking:receipt:operation:{op.id}",
            )
            roles = 0
            role_key = _role_key_for(op)
            if role_key is not None:
                roles = await self._grant_roles(conn, link, *role_key, source=f"operation:{op.id}")
        log.info(
            "gift notice queued operation=%s method=%s user=%d roles=%d",
            op.id,
            op.method,
            link.discord_user_id,
            roles,
        )
        self._wake()

    async def on_linked(self, conn: aiosqlite.Connection, link: Link) -> None:
        """Link hook (inside the link's transaction): confirm by DM."""
        await self._outbox.enqueue(
            conn,
            target=f"dm:{link.discord_user_id}",
            embeds=[linked_notice(link, await member_locale_on(conn, link.discord_user_id) or self._locale())],
            dedupe_key=f"linking:linked:{link.discord_user_id}:{link.neverlose_sub}:{link.linked_at.isoformat()}",
        )

    def after_commit(self) -> None:
        """Commit listener: let the dispatcher deliver what the hooks queued."""
        self._wake()
