"""The stored time text: how the tables keep a moment, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (the staff tables and the
shop's status keep shorter forms of their own).

UTC, always six decimals, a ``Z``: the text sorts like the time it stands for, so SQL compares and orders it
as text. A naive datetime is refused: its zone is unknown, and guessing "local" would store a different moment
on a host not on UTC.

The reader also takes the text SQLite's ``strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`` writes (three decimals: the
migrations' column defaults) and any other ISO text with an offset; it refuses a text without one.

Both are on hot paths (webhook ingest, checkout): ``isoformat``/``fromisoformat`` make and read the same text
as ``strftime``/``strptime`` in about 0.6 and 0.03 of the time, and a time already in ``UTC`` (every clock of
the bot's) skips ``astimezone``.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_timestamp", "parse_timestamp"]


def format_timestamp(moment: datetime) -> str:
    """``2026-12-07T12:05:06.000007Z`` for any aware ``moment`` (converted to UTC); ``ValueError`` if naive.

    ``isoformat`` of a UTC time ends in ``+00:00``, cut off for the ``Z``; it writes a year before 1000 with four
    digits (``strftime`` would not), so the text always reads back and always sorts."""
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_timestamp(text: str) -> datetime:
    """The aware UTC moment of a stored time text (the inverse of :func:`format_timestamp`); ``ValueError`` for a
    text that is not ISO or has no offset."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not UTC:  # ``fromisoformat`` gives ``UTC`` itself for a ``Z`` (and ``+00:00``)
        if moment.tzinfo is None:
            raise ValueError(f"not an aware timestamp: {text!r}")
        moment = moment.astimezone(UTC)
    return moment
