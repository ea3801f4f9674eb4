"""Numbers, money, dates and relative times per locale, from CLDR data through Babel.

Money stays exact: a :class:`~decimal.Decimal` is shown with at least two decimals and never rounded
(``decimal_quantization=False``), grouped the locale's way: ``1,234.50 NLE`` in English, ``1 234,50 NLE``
(no-break space) in Russian.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from babel import Locale
from babel.dates import format_skeleton, format_timedelta
from babel.numbers import format_decimal


def number(value: int | Decimal, locale: str) -> str:
    """``1234`` -> ``1,234`` (en), ``1 234`` (ru)."""
    return format_decimal(value, locale=locale, decimal_quantization=False)


def figure(amount: Decimal, locale: str) -> str:
    """An amount without its currency, two decimals at least: ``1,234.50`` (en), ``1 234,50`` (ru); never rounded."""
    return format_decimal(amount, format="#,##0.00", locale=locale, decimal_quantization=False)


def money(amount: Decimal, currency: str, locale: str) -> str:
    """``Decimal("1234.5"), "NLE"`` -> ``1,234.50 NLE`` (en), ``1 234,50 NLE`` (ru); never rounded."""
    shown = figure(amount, locale)
    return f"{shown}\N{NO-BREAK SPACE}{currency}" if locale == "ru" else f"{shown} {currency}"


def as_written(value: Decimal, locale: str) -> str:
    """A decimal with exactly the places it was written with, grouped the locale's way (a price as stored):
    ``Decimal("1234.50")`` -> ``1,234.50`` (en), ``1 234,50`` (ru); ``Decimal("30")`` -> ``30``; never rounded."""
    places = max(0, -int(value.as_tuple().exponent))
    return format_decimal(value, format="#,##0" + ("." + "0" * places if places else ""), locale=locale)


def date_time(moment: datetime, locale: str, zone: tzinfo = UTC) -> str:
    """Day, month, year, hours and minutes in the locale's order, with the zone's name when it is UTC.

    ``Dec 7, 2026, 12:17 UTC`` (en), ``7 дек. 2026 г., 12:17 UTC`` (ru).
    """
    day = format_skeleton("yMMMd", moment, tzinfo=zone, locale=locale)
    time = format_skeleton("Hm", moment, tzinfo=zone, locale=locale)
    shown = str(Locale.parse(locale).datetime_formats["medium"]).format(time, day)
    return f"{shown} UTC" if zone is UTC else shown


def relative(delta: timedelta, locale: str) -> str:
    """``timedelta(minutes=5)`` -> ``in 5 minutes`` / ``через 5 минут``; negative: ``5 minutes ago``."""
    return format_timedelta(delta, add_direction=True, locale=locale)


_NLE_TEXT = re.compile(r"(?P<amount>\d+(?:\.\d+)?) NLE")


def nle_in(text: str, locale: str) -> str | None:
    """An NLE amount as the money modules write it (``12.50 NLE``) the reader's way (``12,50 NLE``); ``None``
    when ``text`` is not one."""
    found = _NLE_TEXT.fullmatch(text)
    return None if found is None else money(Decimal(found["amount"]), "NLE", locale)
