"""Pure embed builders for the staff commands (``discord.Embed``; ``.to_dict()`` for the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import discord

from bot.i18n import DEFAULT_LOCALE, catalogs, money, t
from bot.market.models import Prices
from bot.staff.approvals import Approval, ApprovalStatus
from bot.staff.models import AuditEvent, AuditRecord, Quote, SpendKind

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
_TITLES = {kind: t(DEFAULT_LOCALE, f"staff.kind.{kind.value}") for kind in SpendKind}
CENTS = Decimal("0.01")  # staff figures are shown to the cent, as the Market quotes them


def nle(amount: Decimal, locale: str = DEFAULT_LOCALE) -> str:
    return money(amount.quantize(CENTS), "NLE", locale)


def rub(amount: Decimal, locale: str = DEFAULT_LOCALE) -> str:
    return money(amount.quantize(CENTS), "RUB", locale)


def _kind(kind: SpendKind, locale: str) -> str:
    return t(locale, f"staff.kind.{kind.value}")


def _status(status: str, locale: str) -> str:
    msg_id = f"staff.status.{status}"
    return t(locale, msg_id) if msg_id in catalogs().ids() else status


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


def audit_embed(record: AuditRecord) -> discord.Embed:
    """One audit record as posted to the audit channel: who, what, for whom, price, request id, result."""
    entry = record.entry
    embed = discord.Embed(
        title=f"{entry.action}: {entry.event.value.replace('_', ' ')}",
        colour=_EVENT_COLOURS.get(entry.event, COLOR_PENDING),
        timestamp=record.created_at,
    )
    embed.add_field(name="Staff", value=f"<@{entry.staff_id}>")
    if entry.username:
        embed.add_field(name="For", value=f"`{entry.username}`")
    if entry.detail:
        embed.add_field(name="What", value=entry.detail)
    if entry.amount_nle is not None:
        embed.add_field(name="Price", value=nle(entry.amount_nle))
    if entry.request_id:
        embed.add_field(name="Request id", value=f"`{entry.request_id}`")
    if entry.result:
        embed.add_field(name="Result", value=entry.result[:1024], inline=False)
    embed.set_footer(text=f"audit #{record.id}")
    return embed


def audit_line(record: AuditRecord) -> str:
    e = record.entry
    when = discord.utils.format_dt(record.created_at, "f")
    parts = [f"`#{record.id}` {when} <@{e.staff_id}> **{e.action}** {e.event.value.replace('_', ' ')}"]
    if e.username:
        parts.append(f"→ `{e.username}`")
    if e.detail:
        parts.append(e.detail)
    if e.request_id:
        parts.append(f"id `{e.request_id}`")
    if e.result:
        parts.append(f"— {e.result[:120]}")
    return " ".join(parts)


def audit_page_embed(records: Sequence[AuditRecord], *, page: int, pages: int, total: int) -> discord.Embed:
    description = "\n".join(audit_line(r) for r in records) or "No operations match."
    embed = discord.Embed(title="Recent operations", description=description[:4096], colour=COLOR_PENDING)
    embed.set_footer(text=f"Page {page + 1}/{max(pages, 1)} · {total} record(s) · full selection in the CSV below")
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


def approval_embed(approval: Approval) -> discord.Embed:
    """The message in the audit channel that a second staff member approves."""
    status = approval.status
    colour = {ApprovalStatus.PENDING: COLOR_PENDING, ApprovalStatus.APPROVED: COLOR_OK}.get(status, COLOR_BAD)
    embed = discord.Embed(title=f"Transfer approval #{approval.id}: {status.value}", colour=colour)
    embed.add_field(name="Requested by", value=f"<@{approval.requested_by}>")
    embed.add_field(name="Recipient", value=f"`{approval.username}`")
    embed.add_field(name="Amount", value=nle(approval.amount))
    if status is ApprovalStatus.PENDING:
        embed.add_field(name="Expires", value=discord.utils.format_dt(approval.expires_at, "R"))
        embed.set_footer(text="Another staff member must approve; the requester cannot approve their own transfer.")
    elif approval.decided_by is not None:
        embed.add_field(name="Decided by", value=f"<@{approval.decided_by}>")
    return embed


def denied_text(approval: Approval) -> str:
    """The answer to the staff member who denied an approval (also shown on the approval message)."""
    return f"Transfer approval #{approval.id} denied: nothing was sent to `{approval.username}`."
