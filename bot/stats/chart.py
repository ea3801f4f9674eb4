"""The chart of ``/stats`` and of the weekly digest: a PNG drawn with matplotlib's Agg backend.

One panel per currency (revenue of the orders) and one for the NLE spent, over the rows of the breakdown
(days, products, methods, staff members or currencies). :func:`render` returns the PNG and the exact series
it plotted, so a test can check the chart says what the embed says. Colours and a solid mid-grey background
keep it readable on Discord's dark and light themes. matplotlib is slow to draw and not thread-safe, so
:func:`render_async` draws in a worker thread under one lock. matplotlib (and numpy under it: about 50 MB and
0.4 s) is imported by the first drawing, not when the bot starts.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.i18n import DEFAULT_LOCALE, t
from bot.stats.figures import ZERO, Figures
from bot.stats.summary import period_label

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_PX = 1200
PANEL_HEIGHT_PX = 330
DPI = 100
MAX_BARS = 31
MAX_CURRENCY_PANELS = 3
BACKGROUND = "#f4f5f7"
"""A light card: dark text on it reads well on Discord's dark theme and its light one."""
TEXT = "#1e1f22"
GRID = "#c4c9d0"
COLOURS = ("#3b6fd4", "#1f9d6b", "#c77c02", "#8e44ad")
NLE_COLOUR = "#d1423f"

_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Series:
    title: str
    unit: str
    labels: list[str]
    values: list[Decimal]


@dataclass(frozen=True, slots=True)
class Chart:
    png: bytes
    series: list[Series]
    width: int
    height: int


def chart_series(
    figures: Figures, label: Callable[[str], str] | None = None, locale: str = DEFAULT_LOCALE
) -> list[Series]:
    """What the chart plots: revenue per currency (the first few currencies) and NLE spent, per row."""
    rows = figures.rows[:MAX_BARS]
    name = label or (lambda key: key)
    labels = [name(row.key) for row in rows]
    series = [
        Series(
            t(locale, "stats.chart.revenue", currency=currency),
            currency,
            labels,
            [row.revenue.get(currency, ZERO) for row in rows],
        )
        for currency in figures.currencies[:MAX_CURRENCY_PANELS]
    ]
    series.append(Series(t(locale, "stats.chart.spent"), "NLE", labels, [row.spent for row in rows]))
    return series


def _style(ax: Axes) -> None:
    ax.set_facecolor(BACKGROUND)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.tick_params(colors=TEXT, labelsize=9)


TOP_PX = 50
BOTTOM_PX = 40
GAP_PX = 30
LEFT_PX = 80
RIGHT_PX = 20
X_LABELS_PX = 100
"""Room under the last panel for (rotated) x labels and the axis title."""
BAR_WIDTH = 0.7


def _bars(ax: Axes, heights: list[float], colour: str) -> Artist:
    """The bars of one panel as ONE collection (``ax.bar`` makes a patch per bar, each with its own transform
    and data-limit update: most of the drawing time of a 31-day chart)."""
    from matplotlib.collections import PolyCollection

    half = BAR_WIDTH / 2
    rectangles = [[(x - half, 0.0), (x - half, h), (x + half, h), (x + half, 0.0)] for x, h in enumerate(heights)]
    return ax.add_collection(PolyCollection(rectangles, facecolors=colour, edgecolors="none"), autolim=False)


@dataclass
class _Prepared:
    """A figure with its panels laid out and styled, kept for the next chart (creating the axes, their spines and
    ticks is about a fifth of a chart's CPU). Each chart removes what the previous one added and sets every
    text, limit and tick it shows, so a chart is the same PNG, byte for byte, as one drawn on a new figure."""

    figure: Figure
    axes: list[Axes]
    added: list[Artist] = field(default_factory=list)


_prepared: dict[int, _Prepared] = {}
"""The last chart's figure, by its number of panels (1 to 4; a shop's usually stays the same), used under
``_lock``. Only one is kept: another number of panels replaces it."""


def _prepare(panels: int) -> _Prepared:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    prepared = _prepared.get(panels)
    if prepared is not None:
        for artist in prepared.added:
            artist.remove()
        prepared.added.clear()
        return prepared
    _prepared.clear()
    height = PANEL_HEIGHT_PX * panels + 90  # pixels (the Chart's height)
    fig = Figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND)
    # Fixed margins instead of tight_layout (which measures every text by drawing the figure once more).
    fig.subplots_adjust(
        left=LEFT_PX / WIDTH_PX,
        right=1 - RIGHT_PX / WIDTH_PX,
        top=1 - TOP_PX / height,
        bottom=(BOTTOM_PX + X_LABELS_PX) / height,
        hspace=GAP_PX / (PANEL_HEIGHT_PX - GAP_PX),
    )
    axes = list(fig.subplots(panels, 1, squeeze=False)[:, 0])  # not sharex: upper panels get no x ticks at all
    for ax in axes:
        _style(ax)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        if ax is not axes[-1]:
            ax.set_xticks([])
    prepared = _prepared[panels] = _Prepared(fig, axes)
    return prepared


def _draw(series: list[Series], title: str, x_label: str) -> Chart:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.transforms import offset_copy

    prepared = _prepare(len(series))
    fig, axes, added = prepared.figure, prepared.axes, prepared.added
    fig.suptitle(title, color=TEXT, fontsize=13, fontweight="bold")
    count = len(series[0].labels)
    for index, (ax, one) in enumerate(zip(axes, series, strict=True)):
        colour = NLE_COLOUR if one.unit == "NLE" else COLOURS[index % len(COLOURS)]
        heights = [float(v) for v in one.values]  # drawing only; the figures stay Decimal
        added.append(_bars(ax, heights, colour))
        if count <= 16:
            above = offset_copy(ax.transData, fig=fig, y=2, units="points")  # 2 points above the bar's top
            for x, (value, top) in enumerate(zip(one.values, heights, strict=True)):
                if value:
                    added.append(
                        ax.text(x, top, f"{value:,}", transform=above, color=TEXT, fontsize=8, ha="center", va="bottom")
                    )
        ax.set_ylabel(f"{one.title.split(' (')[0]} ({one.unit})", color=TEXT, fontsize=10)
        ax.set_ylim(bottom=0, top=max([*heights, 1.0]) * 1.18)
        ax.set_xlim(-0.6, count - 0.4)
    last = axes[-1]
    last.set_xticks(
        range(count),
        series[0].labels,
        rotation=45 if count > 7 else 0,
        ha="right" if count > 7 else "center",
    )
    last.set_xlabel(x_label, color=TEXT, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND, pil_kwargs={"compress_level": 1})
    return Chart(buffer.getvalue(), series, WIDTH_PX, PANEL_HEIGHT_PX * len(series) + 90)


def render(figures: Figures, label: Callable[[str], str] | None = None, locale: str = DEFAULT_LOCALE) -> Chart:
    """Draw the chart of ``figures`` in ``locale`` (blocking: call :func:`render_async` from the event loop)."""
    series = chart_series(figures, label, locale)
    if not series[0].labels:
        series = [Series(s.title, s.unit, [t(locale, "stats.chart.nothing")], [ZERO]) for s in series]
    tz = figures.period.zone.key
    by = figures.by.value
    title = t(locale, f"stats.chart.title_{by}", period=period_label(figures.period, locale), zone=tz)
    with _lock:
        return _draw(series, title, t(locale, f"stats.chart.x_{by}", zone=tz))


async def render_async(
    figures: Figures, label: Callable[[str], str] | None = None, locale: str = DEFAULT_LOCALE
) -> Chart:
    return await asyncio.to_thread(render, figures, label, locale)
