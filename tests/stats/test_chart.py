"""The chart is a valid PNG of the expected size and plots exactly the embed's numbers."""

from __future__ import annotations

import struct
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from bot.stats import chart
from bot.stats.figures import Dimension, Figures, StatsReader
from bot.stats.forecast import Forecast
from bot.stats.summary import stats_embed
from tests.stats.conftest import Seeded


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data[-12:-8] == b"\x00\x00\x00\x00"
    assert data[-8:-4] == b"IEND"
    return width, height


async def test_chart_png_and_series_match_the_embed(seeded: Seeded, images: Path) -> None:
    figures = await StatsReader(seeded.db).figures(seeded.period, Dimension.DAY)
    rendered = await chart.render_async(figures)
    assert png_size(rendered.png) == (chart.WIDTH_PX, rendered.height)
    import matplotlib  # imported by the drawing, with the non-interactive backend

    assert matplotlib.get_backend().lower() == "agg"
    assert rendered.height == 3 * chart.PANEL_HEIGHT_PX + 90  # USD, USDT, NLE spent
    days = ["2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30"]
    assert [(s.title, s.labels, s.values) for s in rendered.series] == [
        ("Revenue (USD)", days, [D(0), D("10.50"), D(0), D(0)]),
        ("Revenue (USDT)", days, [D(0), D(0), D(0), D("12.25")]),
        ("NLE spent (NLE)", days, [D("1.05"), D("19.10"), D("3.30"), D("20.00")]),
    ]
    # The embed's per-day lines say the same numbers.
    embed = stats_embed(figures, None, title="t")
    by_day = next(f["value"] for f in embed["fields"] if f["name"] == "By day")
    for index, day in enumerate(days):
        line = next(line for line in by_day.splitlines() if line.startswith(day))
        for series in rendered.series:
            value = series.values[index]
            if series.unit == "NLE":
                assert f"{value} NLE spent" in line
            elif value:
                assert f"{value} {series.unit}" in line
    assert sum(rendered.series[-1].values, D(0)) == figures.totals.spent
    (images / "stats-chart.png").write_bytes(rendered.png)  # the real chart shown in docs/stats.md


def _image(png: bytes) -> Any:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")


def _bar_x(bar: int, bars: int) -> float:
    """Pixel column of position ``bar`` (the x axis runs from -0.6 to bars - 0.4)."""
    return chart.LEFT_PX + (bar + 0.6) / (bars + 0.2) * (chart.WIDTH_PX - chart.LEFT_PX - chart.RIGHT_PX)


def bar_tops_px(png: bytes, colour: str, bars: int) -> list[tuple[int, int]]:
    """(height, top row) of each bar in pixels of exactly ``colour`` (one panel's bars share it): the height is
    the same in the middle and a quarter bar to each side (a rectangle)."""
    image = _image(png)
    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    found = []
    for bar in range(bars):
        columns = []
        for shift in (-0.25, 0.0, 0.25):
            x = round(_bar_x(bar, bars) + shift * (_bar_x(1, bars) - _bar_x(0, bars)))
            rows = [y for y in range(image.height) if image.getpixel((x, y)) == rgb]
            columns.append((len(rows), min(rows, default=-1)))
        assert max(h for h, _ in columns) - min(h for h, _ in columns) <= 1, columns
        found.append(columns[1])
    return found


def has_label_above(png: bytes, bar: int, bars: int, top: int) -> bool:
    """Dark (text) pixels just above a bar's top, around its middle."""
    image = _image(png)
    x = round(_bar_x(bar, bars))
    return any(sum(image.getpixel((x + dx, y))) < 250 for dx in range(-8, 9) for y in range(top - 14, top - 1))


async def test_bars_are_drawn_at_their_values_with_labels(seeded: Seeded) -> None:
    rendered = chart.render(await StatsReader(seeded.db).figures(seeded.period, Dimension.DAY))
    colours = [chart.COLOURS[0], chart.COLOURS[1], chart.NLE_COLOUR]
    for series, colour in zip(rendered.series, colours, strict=True):
        bars = bar_tops_px(rendered.png, colour, len(series.values))
        tallest, top = max(h for h, _ in bars), max(series.values)
        assert tallest > 150, (series.title, bars)  # the highest bar fills most of its panel (1 / 1.18)
        base = max(row + h for h, row in bars)  # the panel's zero line
        for index, (value, (height, row)) in enumerate(zip(series.values, bars, strict=True)):
            assert abs(height - float(value / top) * tallest) <= 2, (series.title, bars)
            # a value's label sits above its bar; an empty day has none
            label_row = row if height else base
            assert has_label_above(rendered.png, index, len(bars), label_row) == bool(value), (series.title, index)


async def test_chart_by_staff_uses_labels_and_an_empty_chart_still_renders(seeded: Seeded, market_db: object) -> None:
    figures = await StatsReader(seeded.db).figures(seeded.period, Dimension.STAFF)
    rendered = chart.render(figures, lambda key: {"1001": "Alice"}.get(key, key))
    assert rendered.series[0].labels == ["shop", "Alice", "system", "1002"]
    empty = await StatsReader(seeded.db).figures(seeded.period.previous().previous(), Dimension.PRODUCT)
    blank = chart.render(empty)
    assert [s.title for s in blank.series] == ["NLE spent (NLE)"]
    assert blank.series[0].labels == ["(nothing)"]
    assert png_size(blank.png) == (chart.WIDTH_PX, chart.PANEL_HEIGHT_PX + 90)


async def test_embed_fields(seeded: Seeded) -> None:
    figures = await StatsReader(seeded.db).figures(seeded.period, Dimension.STAFF)
    forecast = Forecast(D("100.00"), D("70.00"), 0)
    embed = stats_embed(figures, forecast, title="Shop statistics")
    assert embed["description"] == "2026-03-27 to 2026-03-30, days in Europe/Berlin."
    assert embed["image"] == {"url": "attachment://stats.png"}
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Orders"] == "2 paid, revenue 10.50 USD, 12.25 USDT; 1 refunded"
    assert fields["NLE spent"] == (
        "Total: 43.45 NLE\nShop (orders): 37.10 NLE\n<@1001>: 3.30 NLE\n<@1002>: 1.05 NLE\nsystem: 2.00 NLE"
    )
    assert fields["Received (webhooks)"] == "Purchases: 1 (7.77 NLE)\nTransfers: 1 (4.44 NLE)"
    assert fields["By staff"] == (
        "the shop (orders): 1 orders, 12.25 USDT, 37.10 NLE spent\n"
        "<@1001>: 1 orders, 10.50 USD, 3.30 NLE spent\n"
        "system: 0 orders, 0, 2.00 NLE spent\n"
        "<@1002>: 0 orders, 0, 1.05 NLE spent"
    )
    assert fields["Top buyers"] == "`Alice`: 2 orders, 10.50 USD, 12.25 USDT"
    assert fields["Previous 4 day(s) (2026-03-23 to 2026-03-26)"] == (
        "Orders: 2 (before 1, +100 %)\n"
        "Revenue USD: 10.50 (before 5.00, +110 %)\n"
        "Revenue USDT: 12.25 (before 0, new)\n"
        "NLE spent: 43.45 (before 10.00, +334.5 %)\n"
        "Purchases: 1 (before 1, ±0 %)\n"
        "Transfers: 1 (before 0, new)"
    )
    assert fields["Balance"] == "100.00 NLE. Forecast: about 10.0 days left at 10.00 NLE/day (last 7 days)."


async def test_chart_drawn_with_the_figures_is_the_chart_of_the_figures(seeded: Seeded) -> None:
    reader = StatsReader(seeded.db)
    seen: list[Figures] = []

    async def draw(early: Figures) -> chart.Chart:
        seen.append(early)
        return await chart.render_async(early)

    for by in Dimension:
        figures, rendered = await reader.figures_and_chart(seeded.period, by, draw)
        assert figures == await reader.figures(seeded.period, by)
        assert (seen[-1].period, seen[-1].by, seen[-1].rows) == (figures.period, by, figures.rows)
        assert rendered == chart.render(figures)  # the same series and the same PNG, byte for byte


async def test_a_chart_on_the_kept_figure_is_the_chart_on_a_new_one(seeded: Seeded) -> None:
    """The figures are kept between charts (bot.stats.chart._prepared): nothing of one chart shows in the next,
    whatever came before (rotated or level day labels, other panels, value labels or none, another language)."""
    from datetime import date

    from bot.stats.periods import Period
    from tests.stats.conftest import BERLIN

    reader = StatsReader(seeded.db)
    ten_days = Period(date(2026, 3, 21), date(2026, 3, 30), BERLIN)  # 10 bars: rotated labels
    sequence = [
        (await reader.figures(ten_days, Dimension.DAY), "en"),
        (await reader.figures(seeded.period, Dimension.DAY), "en"),
        (await reader.figures(seeded.period, Dimension.STAFF), "ru"),
        (await reader.figures(seeded.period.previous().previous(), Dimension.PRODUCT), "en"),  # one empty panel
        (await reader.figures(seeded.period, Dimension.PRODUCT), "en"),
        (await reader.figures(ten_days, Dimension.CURRENCY), "en"),
        (await reader.figures(seeded.period, Dimension.DAY), "en"),
    ]
    kept = [chart.render(figures, locale=locale).png for figures, locale in sequence]
    assert len(chart._prepared) == 1  # the last one only
    for (figures, locale), png in zip(sequence, kept, strict=True):
        chart._prepared.clear()
        assert chart.render(figures, locale=locale).png == png, (figures.by, figures.period)
