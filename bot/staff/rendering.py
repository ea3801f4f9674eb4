"""Pure embed builders for the staff commands (``discord.Embed``; ``.to_dict()`` for the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import discord

from bot.i18n import DEFAULT_LOCALE, money, t
from bot.i18n.catalog import t_known
from bot.market.models import Prices
from bot.notifications.embeds import echoed
from bot.staff.approvals import Approval, ApprovalStatus
from bot.staff.models import AuditEvent, AuditRecord, Quote, SpendKind
from bot.staff.recorded import detail_in, result_in

COLOR_PENDING = discord.Colour.blurple()
COLOR_OK = discord.Colour.green()
COLOR_BAD = discord.Colour.red()
COLOR_UNKNOWN = discord.Colour.orange()

_EVENT_COLOURS = {
    AuditEvent.SUCCEEDED: COLOR_OK,
    AuditEvent.APPROVED: COLOR_OK,
    AuditEvent.FAILED: COLOR_BAD,
    AuditEvent.REFUSED: COLOR_BAD,
    AuditEvent.APPROVAL_REFUSED: COLOR_BAD,
    AuditEvent.APPROVAL_DENIED: COLOR_BAD,
    AuditEvent.UNKNOWN: COLOR_UNKNOWN,
    AuditEvent.APPROVAL_EXPIRED: COLOR_UNKNOWN,
}
CENTS = Decimal("0.01")  # staff figures are shown to the cent, as the Market quotes them


def nle(amount: Decimal, locale: str = DEFAULT_LOCALE) -> str:
    return money(amount.quantize(CENTS), "NLE", locale)


def rub(amount: Decimal, locale: str = DEFAULT_LOCALE) -> str:
    return money(amount.quantize(CENTS), "RUB", locale)


def _kind(kind: SpendKind, locale: str) -> str:
    return t(locale, f"staff.kind.{kind.value}")


def _status(status: str, locale: str) -> str:
    return t_known(locale, f"staff.status.{status}", status)


def quote_embed(quote: Quote, *, timeout_s: float, locale: str = DEFAULT_LOCALE) -> discord.Embed:
    """The confirmation shown before anything is sent."""

    def field(name: str, value: str) -> None:
        embed.add_field(name=t(locale, f"staff.field.{name}"), value=value)

    embed = discord.Embed(title=t(locale, "staff.confirm.title", kind=_kind(quote.kind, locale)), colour=COLOR_PENDING)
    field("recipient", f"`{quote.username}`")
    if quote.kind is SpendKind.GIFT and quote.product is not None and quote.plan is not None:
        field("product", quote.product.label)
        field("days", str(quote.plan.days))
    if quote.kind is SpendKind.GIVE:
        field("item", f"`{quote.item_code}`")
    price = nle(quote.amount_nle, locale)
    if quote.amount_rub is not None:
        price += f" ({rub(quote.amount_rub, locale)})"
    field("amount" if quote.kind is SpendKind.TRANSFER else "price", price)
    if quote.balance is not None and quote.balance_after is not None:
        field("balance_now", nle(quote.balance, locale))
        field("balance_after", nle(quote.balance_after, locale))
    footer = t(locale, "staff.confirm.footer", seconds=f"{timeout_s:.0f}")
    if quote.needs_approval:
        footer = t(locale, "staff.confirm.approval") + " " + footer
    embed.set_footer(text=footer)
    return embed


def outcome_embed(
    quote: Quote, *, status: str, request_id: str | None, text: str, locale: str = DEFAULT_LOCALE
) -> discord.Embed:
    """The confirmation message after Confirm: what happened."""
    colour = {"succeeded": COLOR_OK, "failed": COLOR_BAD, "awaiting approval": COLOR_PENDING}.get(status, COLOR_UNKNOWN)
    title = t(locale, "staff.outcome.title", kind=_kind(quote.kind, locale), status=_status(status, locale))
    embed = discord.Embed(title=title, description=text, colour=colour)
    embed.add_field(name=t(locale, "staff.field.recipient"), value=f"`{quote.username}`")
    embed.add_field(name=t(locale, "staff.field.what"), value=quote.detail_in(locale))
    if quote.kind is not SpendKind.GIVE:
        embed.add_field(name=t(locale, "staff.field.amount"), value=nle(quote.amount_nle, locale))
    if request_id:
        embed.add_field(name=t(locale, "staff.field.request_id"), value=f"`{request_id}`", inline=False)
    return embed


def closed_embed(quote: Quote, reason: str, detail: str = "", locale: str = DEFAULT_LOCALE) -> discord.Embed:
    """A confirmation that ended without sending anything (cancelled, expired, refused)."""
    nothing = t(locale, "staff.closed.nothing_sent")
    text = f"{detail}\n{nothing}" if detail else nothing
    title = t(locale, "staff.outcome.title", kind=_kind(quote.kind, locale), status=_status(reason, locale))
    return discord.Embed(title=title, description=text, colour=COLOR_BAD)


def _audit_action(action: str, locale: str) -> str:
    """A recorded action (``gift``, ``order confirm``…) in ``locale``; one the catalogs lack, as recorded."""
    return t_known(locale, f"audit.action.{action}", action)


def _audit_event(event: AuditEvent, locale: str) -> str:
    return t(locale, f"audit.event.{event.value}")


def audit_embed(record: AuditRecord, locale: str = DEFAULT_LOCALE) -> discord.Embed:
    """One audit record as posted to the audit channel: who, what, for whom, price, request id, result.

    The frame is in ``locale`` (the channel's language); ``detail`` and ``result`` too when they are catalog
    sentences (:mod:`bot.staff.recorded`), otherwise as recorded."""
    entry = record.entry
    embed = discord.Embed(
        title=t(
            locale, "audit.title", action=_audit_action(entry.action, locale), event=_audit_event(entry.event, locale)
        ),
        colour=_EVENT_COLOURS.get(entry.event, COLOR_PENDING),
        timestamp=record.created_at,
    )
    embed.add_field(name=t(locale, "audit.field.staff"), value=f"<@{entry.staff_id}>")
    if entry.username:
        embed.add_field(name=t(locale, "audit.field.for"), value=f"`{echoed(entry.username, 64)}`")
    if entry.detail:
        embed.add_field(name=t(locale, "staff.field.what"), value=detail_in(entry.detail, locale, entry.action)[:1024])
    if entry.amount_nle is not None:
        embed.add_field(name=t(locale, "staff.field.price"), value=nle(entry.amount_nle, locale))
    if entry.request_id:
        embed.add_field(name=t(locale, "staff.field.request_id"), value=f"`{entry.request_id}`")
    if entry.result:
        embed.add_field(
            name=t(locale, "audit.field.result"),
            value=result_in(entry.result, locale, entry.action)[:1024],
            inline=False,
        )
    embed.set_footer(text=t(locale, "audit.footer", id=record.id))
    return embed


def audit_line(record: AuditRecord, locale: str = DEFAULT_LOCALE) -> str:
    e = record.entry
    when = discord.utils.format_dt(record.created_at, "f")
    action, event = _audit_action(e.action, locale), _audit_event(e.event, locale)
    parts = [f"`#{record.id}` {when} <@{e.staff_id}> **{action}** {event}"]
    if e.username:
        parts.append(f"→ `{echoed(e.username, 64)}`")
    if e.detail:
        parts.append(detail_in(e.detail, locale, e.action))
    if e.request_id:
        parts.append(f"id `{e.request_id}`")
    if e.result:
        parts.append(f"— {result_in(e.result, locale, e.action)[:120]}")
    return " ".join(parts)


def audit_page_embed(
    records: Sequence[AuditRecord], *, page: int, pages: int, total: int, locale: str = DEFAULT_LOCALE
) -> discord.Embed:
    description = "\n".join(audit_line(r, locale) for r in records) or t(locale, "audit.page.empty")
    embed = discord.Embed(title=t(locale, "audit.page.title"), description=description[:4096], colour=COLOR_PENDING)
    embed.set_footer(text=t(locale, "audit.page.footer", page=page + 1, pages=max(pages, 1), total=total))
    return embed


def prices_embed(prices: Prices, locale: str = DEFAULT_LOCALE) -> discord.Embed:
    title = t(locale, "info.prices.title", product=prices.product.label)
    embed = discord.Embed(title=title, colour=COLOR_PENDING)
    for plan, row in sorted(prices.plans.items()):
        eur = money(row.nle.quantize(CENTS), "EUR", locale)
        embed.add_field(
            name=t(locale, "count.days", count=plan.days),
            value=f"{nle(row.nle, locale)} ({eur})\n{rub(row.rub, locale)}",
        )
    return embed


def approval_embed(approval: Approval, locale: str = DEFAULT_LOCALE) -> discord.Embed:
    """The message in the audit channel that a second staff member approves (in the channel's language)."""
    status = approval.status
    colour = {ApprovalStatus.PENDING: COLOR_PENDING, ApprovalStatus.APPROVED: COLOR_OK}.get(status, COLOR_BAD)
    title = t(locale, "approval.title", id=approval.id, status=t(locale, f"approval.status.{status.value}"))
    embed = discord.Embed(title=title, colour=colour)
    embed.add_field(name=t(locale, "approval.field.requested_by"), value=f"<@{approval.requested_by}>")
    embed.add_field(name=t(locale, "staff.field.recipient"), value=f"`{approval.username}`")
    embed.add_field(name=t(locale, "staff.field.amount"), value=nle(approval.amount, locale))
    if status is ApprovalStatus.PENDING:
        embed.add_field(
            name=t(locale, "approval.field.expires"), value=discord.utils.format_dt(approval.expires_at, "R")
        )
        embed.set_footer(text=t(locale, "approval.footer"))
    elif approval.decided_by is not None:
        embed.add_field(name=t(locale, "approval.field.decided_by"), value=f"<@{approval.decided_by}>")
    return embed


def denied_text(approval: Approval, locale: str = DEFAULT_LOCALE) -> str:
    """The answer to the staff member who denied an approval (also shown on the approval message)."""
    return t(locale, "approval.denied", id=approval.id, username=approval.username)
