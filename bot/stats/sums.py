"""Exact sums of decimal text inside SQLite: every amount is read as an integer of 10^-8 units.

SQLite has no decimal type (``SUM`` of text is a float), so a column holding decimal text such as ``10.50``
is summed as ``10 * 10^8 + 50000000`` with SQLite's 64-bit integer ``SUM`` (exact; it raises on overflow
rather than rounding). :func:`aggregate` selects, per group, the count, the integer sum of the well-formed
amounts, their largest number of decimal places, and the text of any other amount (at most 10 integer
digits and 8 decimals are well formed; anything else, e.g. ``1E+2``, is summed exactly in Python instead).
:func:`total` turns that back into a ``Decimal`` with the places of its most precise amount, so ``10.50 +
2.00`` is ``12.50`` exactly as Python would add them. ``NULL`` amounts count as rows and add nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal

SCALE = 8
_UNIT: int = 10**SCALE


def well_formed(column: str) -> str:
    c = column
    return (
        f"({c} GLOB '[0-9]*' AND {c} NOT GLOB '*[^0-9.]*' AND {c} NOT GLOB '*.*.*'"
        f" AND ((instr({c}, '.') = 0 AND length({c}) <= 10)"
        f" OR (instr({c}, '.') BETWEEN 2 AND 11 AND length({c}) - instr({c}, '.') BETWEEN 1 AND {SCALE})))"
    )


def units(column: str) -> str:
    c = column
    return (
        f"(CASE WHEN instr({c}, '.') = 0 THEN CAST({c} AS INTEGER) * {_UNIT}"
        f" ELSE CAST(substr({c}, 1, instr({c}, '.') - 1) AS INTEGER) * {_UNIT}"
        f" + CAST(substr(substr({c}, instr({c}, '.') + 1) || '{'0' * SCALE}', 1, {SCALE}) AS INTEGER) END)"
    )


def places(column: str) -> str:
    c = column
    return f"(CASE WHEN instr({c}, '.') = 0 THEN 0 ELSE length({c}) - instr({c}, '.') END)"


def aggregate(column: str) -> str:
    """Four result columns: ``COUNT(*)``, the integer sum, the most decimal places, the other amounts' text."""
    ok = well_formed(column)
    return (
        f"COUNT(*), SUM(CASE WHEN {ok} THEN {units(column)} END), MAX(CASE WHEN {ok} THEN {places(column)} END),"
        f" group_concat(CASE WHEN {column} IS NOT NULL AND NOT {ok} THEN {column} END, ' ')"
    )


def total(unit_sum: int | None, max_places: int | None, others: str | None) -> Decimal:
    """The exact ``Decimal`` of one group (the last three columns of :func:`aggregate`)."""
    result = Decimal(0)
    if unit_sum is not None:
        result = (Decimal(unit_sum) / _UNIT).quantize(Decimal(1).scaleb(-(max_places or 0)))
    if others:
        for text in others.split(" "):
            result += Decimal(text)
    return result


# --------------------------------------------------------------------------- the stored units
# Migration 0013 stores, beside each amount the figures sum, ``<column>_units`` and ``<column>_places``: the
# values of :func:`units` and :func:`places` for well-formed text, NULL otherwise, kept by triggers. Summing
# those integers reads them from a covering index: on bench/bench_stats.py's data this costs about a third of
# the CPU of the text path's per-row substr/CAST (and less than the float-rounding path used before, measured
# 2026-12-07), with the same result, because it is the same arithmetic done once at write time.


_WELL_FORMED = re.compile(rf"([0-9]{{1,10}})(?:\.([0-9]{{1,{SCALE}}}))?")


def stored_units(text: str) -> tuple[int | None, int | None]:
    """``(units, places)`` of ``text`` as the triggers store them (:func:`units` and :func:`places` of
    well-formed text, ``(None, None)`` otherwise), computed in Python: a writer that inserts them itself spares
    the row's rewrite by the insert trigger (migration 0014), which still corrects any other value."""
    match = _WELL_FORMED.fullmatch(text)
    if match is None:
        return None, None
    whole, fraction = match.groups()
    if fraction is None:
        return int(whole) * _UNIT, 0
    return int(whole) * _UNIT + int(fraction.ljust(SCALE, "0")), len(fraction)


def stored_aggregate(column: str) -> str:
    """Four result columns: ``COUNT(*)``, the integer sum of the stored units, the most decimal places, and the
    number of amounts without stored units (not well formed: :func:`stored_total` then declines)."""
    c = column
    return f"COUNT(*), SUM({c}_units), MAX({c}_places), SUM({c} IS NOT NULL AND {c}_units IS NULL)"


def stored_total(unit_sum: int | None, max_places: int | None, others: int | None) -> Decimal | None:
    """The exact ``Decimal`` of one group of :func:`stored_aggregate` (what :func:`total` gives for the same
    rows), or ``None`` when some amount is not well formed (use :func:`aggregate` then)."""
    if others:
        return None
    return total(unit_sum, max_places, None)
