"""The embed of ``/stats`` and of the weekly digest (a Discord embed as a dict, see bot.notifications.embeds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from bot.i18n import DEFAULT_LOCALE, t
from bot.notifications.embeds import MAX_FIELD_VALUE, Embed
from bot.stats.figures import SHOP, SYSTEM, Dimension, Figures, Totals, change
from bot.stats.forecast import Forecast
from bot.stats.periods import Period

COLOR = 0x3B6FD4
MAX_ROWS = 15
Labeller = Callable[[str], str]


def money(values: Mapping[str, Decimal]) -> str:
    """``120.00 USD, 15.50 EUR`` (or ``0``)."""
    return ", ".join(f"{amount} {currency}" for currency, amount in values.items()) or "0"


def staff_label(key: str, locale: str = DEFAULT_LOCALE) -> str:
    """How a staff key is written in Discord text: a mention, ``shop`` or ``system``."""
    if key == SHOP:
        return t(locale, "stats.staff.shop")
    if key == SYSTEM:
        return t(locale, "stats.staff.system")
    return f"<@{key}>"


def period_label(period: Period, locale: str = DEFAULT_LOCALE) -> str:
    """``2026-03-27 to 2026-03-30`` (dates stay ISO in every language), or the one day."""
    if period.first == period.last:
        return period.first.isoformat()
    return t(locale, "stats.period.range", first=period.first.isoformat(), last=period.last.isoformat())


def _change(now: Decimal | int, before: Decimal | int, locale: str) -> str:
    shown = change(now, before)
    return t(locale, "stats.change.new") if shown == "new" else shown


def _clip(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if len(text) + len(line) + 1 > MAX_FIELD_VALUE - 2:
            return text + "…"
        text += line + "\n"
    return text.rstrip("\n") or "—"


def _compare(now: Totals, before: Totals, locale: str) -> list[str]:
    def line(msg_id: str, a: Decimal | int, b: Decimal | int, **values: object) -> str:
        return t(locale, msg_id, now=a, before=b, change=_change(a, b, locale), **values)

    lines = [line("stats.compare.orders", now.orders, before.orders)]
    for currency in sorted(set(now.revenue) | set(before.revenue)):
        a, b = now.revenue.get(currency, Decimal(0)), before.revenue.get(currency, Decimal(0))
        lines.append(line("stats.compare.revenue", a, b, currency=currency))
    lines.append(line("stats.compare.spent", now.spent, before.spent))
    lines.append(line("stats.compare.purchases", now.purchases, before.purchases))
    lines.append(line("stats.compare.transfers", now.transfers, before.transfers))
    return lines


def stats_embed(
    figures: Figures,
    forecast: Forecast | None,
    *,
    title: str,
    label: Labeller | None = None,
    locale: str = DEFAULT_LOCALE,
) -> Embed:
    """The embed in ``locale``; figures are shown as the tests check them (Decimal as stored, ISO dates)."""
    name = label or (lambda key: staff_label(key, locale) if figures.by is Dimension.STAFF else key)
    tot = figures.totals
    period = figures.period
    staff_lines = [f"{staff_label(key, locale)}: {amount} NLE" for key, amount in tot.spent_staff.items()]
    orders = (
        t(locale, "stats.orders.value_refunded", orders=tot.orders, revenue=money(tot.revenue), refunded=tot.refunded)
        if tot.refunded
        else t(locale, "stats.orders.value", orders=tot.orders, revenue=money(tot.revenue))
    )
    rows = [
        t(locale, "stats.row", name=name(row.key), orders=row.orders, revenue=money(row.revenue), spent=row.spent)
        for row in figures.rows[:MAX_ROWS]
    ]
    if len(figures.rows) > MAX_ROWS:
        rows.append(t(locale, "stats.more", count=len(figures.rows) - MAX_ROWS))
    fields = [
        {"name": t(locale, "stats.field.orders"), "value": orders, "inline": False},
        {
            "name": t(locale, "stats.field.spent"),
            "value": _clip(
                [
                    t(locale, "stats.spent.total", amount=tot.spent),
                    t(locale, "stats.spent.shop", amount=tot.spent_shop),
                    *staff_lines,
                ]
            ),
            "inline": False,
        },
        {
            "name": t(locale, "stats.field.received"),
            "value": t(locale, "stats.received.purchases", count=tot.purchases, amount=tot.purchases_nle)
            + "\n"
            + t(locale, "stats.received.transfers", count=tot.transfers, amount=tot.transfers_nle),
            "inline": False,
        },
        {"name": t(locale, f"stats.field.by_{figures.by.value}"), "value": _clip(rows), "inline": False},
        {
            "name": t(locale, "stats.field.buyers"),
            "value": _clip(
                [
                    t(locale, "stats.buyer", login=b.login, orders=b.orders, revenue=money(b.revenue))
                    for b in figures.buyers
                ]
            ),
            "inline": False,
        },
        {
            "name": t(locale, "stats.field.previous", days=period.days, period=period_label(period.previous(), locale)),
            "value": _clip(_compare(tot, figures.previous, locale)),
            "inline": False,
        },
    ]
    if forecast is not None:
        fields.append(
            {
                "name": t(locale, "stats.field.balance"),
                "value": t(locale, "stats.balance.value", balance=forecast.balance, forecast=forecast.text(locale)),
                "inline": False,
            }
        )
    return {
        "title": title,
        "description": t(locale, "stats.description", period=period_label(period, locale), zone=period.zone.key),
        "color": COLOR,
        "fields": fields,
        "image": {"url": "attachment://stats.png"},
    }
