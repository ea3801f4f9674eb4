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


# --------------------------------------------------------------------------- the fast path
# Why a second path: on bench/bench_stats.py's data (100,000 rows per table in the period), the figures of
# one /stats answer (this period and the previous one) cost about 1.7 s of CPU with the fast path and 2.8 s
# with the text path alone (measured 2026-12-07, the five breakdowns interleaved, same results): the per-row
# CASE and substr of :func:`units` and :func:`well_formed` are most of the cost of the exact text path.
FAST_LIMIT = 10**6
"""Below this magnitude, an amount with at most 8 decimals times 10^8 is under 10^14, where a double is
within 0.03 of it: rounding gives the exact integer."""


def fast_aggregate(column: str) -> str:
    """Five result columns, cheap to compute: ``COUNT(*)``, the sum of ``round(amount * 10^8)`` computed in
    floating point, the most decimal places, the largest magnitude, and the number of amounts that are not
    plain ``digits[.digits]`` text. :func:`fast_total` accepts the sum only when those prove it exact."""
    c = column
    return (
        f"COUNT(*), SUM(CAST(ROUND(CAST({c} AS REAL) * {_UNIT}) AS INTEGER)),"
        f" MAX(CASE WHEN instr({c}, '.') = 0 THEN 0 ELSE length({c}) - instr({c}, '.') END),"
        f" MAX(ABS(CAST({c} AS REAL))), SUM({c} GLOB '*[^0-9.]*' OR {c} GLOB '*.*.*')"
    )


def fast_total(
    unit_sum: int | None, max_places: int | None, max_abs: float | None, not_plain: int | None
) -> Decimal | None:
    """The exact ``Decimal`` of one group of :func:`fast_aggregate`, or ``None`` when it cannot be proven exact
    (use :func:`aggregate` then)."""
    if not_plain or (max_places or 0) > SCALE or (max_abs or 0.0) >= FAST_LIMIT:
        return None
    if unit_sum is None:
        return Decimal(0)
    return (Decimal(unit_sum) / _UNIT).quantize(Decimal(1).scaleb(-(max_places or 0)))
