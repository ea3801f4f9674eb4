"""Many rows per SQL statement: the chunks a long list of rows is written (or looked up) in.

On the batch writer's thread every statement step hands the GIL to the busy event loop and must take it
back (see :mod:`bot.storage.batch_writer`), so the hot path writes many rows per statement rather than one
statement (or one ``executemany`` step) per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

ROWS_PER_STATEMENT = 256
"""Rows per multi-row statement: at 9 parameters a row, far below SQLite's limit of 32,766 variables."""


def chunked(items: Sequence[T], size: int = ROWS_PER_STATEMENT) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def row_marks(row: str, count: int) -> str:
    """``count`` copies of one row's ``VALUES`` text, comma-separated: ``(?, ?), (?, ?)``."""
    return ", ".join([row] * count)
