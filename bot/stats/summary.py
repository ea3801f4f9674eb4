"""The embed of ``/stats`` and of the weekly digest (a Discord embed as a dict, see bot.notifications.embeds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from bot.notifications.embeds import Embed
from bot.stats.figures import SHOP, SYSTEM, Dimension, Figures, Totals, change
from bot.stats.forecast import Forecast

COLOR = 0x3B6FD4
MAX_ROWS = 15
FIELD_LIMIT = 1024
Labeller = Callable[[str], str]


def money(values: Mapping[str, Decimal]) -> str:
    """``120.00 USD, 15.50 EUR`` (or ``0``)."""
    return ", ".join(f"{amount} {currency}" for currency, amount in values.items()) or "0"


def staff_label(key: str) -> str:
    """How a staff key is written in Discord text: a mention, ``shop`` or ``system``."""
    if key == SHOP:
        return "the shop (orders)"
    if key == SYSTEM:
        return "system"
    return f"<@{key}>"


def _clip(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if len(text) + len(line) + 1 > FIELD_LIMIT - 2:
            return text + "…"
        text += line + "\n"
    return text.rstrip("\n") or "—"


def _compare(now: Totals, before: Totals) -> list[str]:
    lines = [f"Orders: {now.orders} (before {before.orders}, {change(now.orders, before.orders)})"]
    for currency in sorted(set(now.revenue) | set(before.revenue)):
        a, b = now.revenue.get(currency, Decimal(0)), before.revenue.get(currency, Decimal(0))
        lines.append(f"Revenue {currency}: {a} (before {b}, {change(a, b)})")
    lines.append(f"NLE spent: {now.spent} (before {before.spent}, {change(now.spent, before.spent)})")
    lines.append(f"Purchases: {now.purchases} (before {before.purchases}, {change(now.purchases, before.purchases)})")
    lines.append(f"Transfers: {now.transfers} (before {before.transfers}, {change(now.transfers, before.transfers)})")
    return lines


def stats_embed(figures: Figures, forecast: Forecast | None, *, title: str, label: Labeller | None = None) -> Embed:
    name = label or (lambda key: staff_label(key) if figures.by is Dimension.STAFF else key)
    t = figures.totals
    period = figures.period
    staff_lines = [f"{staff_label(key)}: {amount} NLE" for key, amount in t.spent_staff.items()]
    fields = [
        {
            "name": "Orders",
            "value": f"{t.orders} paid, revenue {money(t.revenue)}"
            + (f"; {t.refunded} refunded" if t.refunded else ""),
            "inline": False,
        },
        {
            "name": "NLE spent",
            "value": _clip([f"Total: {t.spent} NLE", f"Shop (orders): {t.spent_shop} NLE", *staff_lines]),
            "inline": False,
        },
        {
            "name": "Received (webhooks)",
            "value": f"Purchases: {t.purchases} ({t.purchases_nle} NLE)\n"
            f"Transfers: {t.transfers} ({t.transfers_nle} NLE)",
            "inline": False,
        },
        {
            "name": f"By {figures.by.value}",
            "value": _clip(
                [
                    f"{name(row.key)}: {row.orders} orders, {money(row.revenue)}, {row.spent} NLE spent"
                    for row in figures.rows[:MAX_ROWS]
                ]
                + ([f"… {len(figures.rows) - MAX_ROWS} more"] if len(figures.rows) > MAX_ROWS else [])
            ),
            "inline": False,
        },
        {
            "name": "Top buyers",
            "value": _clip([f"`{b.login}`: {b.orders} orders, {money(b.revenue)}" for b in figures.buyers]),
            "inline": False,
        },
        {
            "name": f"Previous {period.days} day(s) ({period.previous().label})",
            "value": _clip(_compare(t, figures.previous)),
            "inline": False,
        },
    ]
    if forecast is not None:
        fields.append({"name": "Balance", "value": f"{forecast.balance} NLE. {forecast.text()}", "inline": False})
    return {
        "title": title,
        "description": f"{period.label}, days in {period.zone.key}.",
        "color": COLOR,
        "fields": fields,
        "image": {"url": "attachment://stats.png"},
    }
