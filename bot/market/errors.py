"""The typed failures of the Market layer.

``MarketFailure`` is the common base. Callers usually handle:

* :class:`MarketError` — the API answered and refused; ``.text`` is its exact error text (show it to staff
  as it is; never match on it except ``Invalid id.``);
* :class:`MarketUnavailable` — no usable answer: network error, timeout, 5xx, 429 (after retries, for
  read-only calls);
* :class:`MarketProtocolError` — an answer we cannot trust: not JSON, missing fields, wrong types;
* :class:`MarketValidationError` — refused by us before anything was sent (also a ``ValueError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.i18n.said import Said

INVALID_ID_TEXT = "Invalid id."


class MarketFailure(Exception):
    """Base class of every Market API failure."""


class MarketError(MarketFailure):
    """The API refused the request; ``text`` is its error message verbatim."""

    def __init__(self, text: str, *, method: str | None = None, status: int | None = None) -> None:
        self.text = text
        self.method = method
        self.status = status
        super().__init__(text)

    @property
    def is_invalid_id(self) -> bool:
        """The one error text with a meaning: the request id was already used."""
        return self.text.strip() == INVALID_ID_TEXT


class MarketUnavailable(MarketFailure):
    """No usable answer: connection error, timeout, HTTP 5xx or 429."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class MarketProtocolError(MarketFailure):
    """The API answered something malformed or unexpected."""

    def __init__(self, message: str, *, method: str | None = None, status: int | None = None) -> None:
        self.method = method
        self.status = status
        super().__init__(message)


class MarketValidationError(MarketFailure, ValueError):
    """A parameter was refused before anything was sent (bad username, amount, request id, …)."""

    def __init__(self, field: str, message: str, *, said: Said | None = None) -> None:
        self.field = field
        self.message = message
        self.said = said
        super().__init__(f"{field}: {message}")

    def message_in(self, locale: str) -> str:
        """``message`` in ``locale`` when it is a catalog sentence (``said``), else as given."""
        return self.message if self.said is None else self.said(locale)
