"""The typed failures of the Crypto Pay client.

* :class:`CryptoPayError` — the API answered ``ok: false``; ``name`` is its error name (``UNAUTHORIZED``,
  ``INVOICE_NOT_FOUND``, …) and ``code`` its numeric code;
* :class:`CryptoPayUnavailable` — no usable answer: connection error, timeout, HTTP 5xx or 429. For
  ``createInvoice`` this means *unknown outcome*: the invoice may exist;
* :class:`CryptoPayProtocolError` — an answer we cannot trust: not JSON, missing fields, wrong types.
"""

from __future__ import annotations


class CryptoPayFailure(Exception):
    """Base class of every Crypto Pay failure."""


class CryptoPayError(CryptoPayFailure):
    """The API refused the request."""

    def __init__(self, name: str, code: int | None, *, method: str, status: int | None = None) -> None:
        self.name = name
        self.code = code
        self.method = method
        self.status = status
        super().__init__(f"{method}: {name}" + (f" (code {code})" if code is not None else ""))


class CryptoPayUnavailable(CryptoPayFailure):
    """No usable answer (network error, timeout, 5xx, 429)."""

    def __init__(
        self, message: str, *, method: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.method = method
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class CryptoPayProtocolError(CryptoPayFailure):
    """The API answered something malformed or unexpected."""

    def __init__(self, message: str, *, method: str, status: int | None = None) -> None:
        self.method = method
        self.status = status
        super().__init__(message)
