"""The Market client's own technical details in the reader's language.

:mod:`bot.market.client` writes the text of a :class:`~bot.market.errors.MarketUnavailable` or
:class:`~bot.market.errors.MarketProtocolError` in English (``set-reseller-prices: server error (HTTP 503)``);
it is logged and stored as written (the last push error, an operation's error). Where a person reads it, the
text is matched to its ``market.detail.*`` catalog message (whose English is exactly what the client writes)
and shown in their language, the method name and the HTTP status as they are. A text no message matches (an
aiohttp error's own words after the method) is shown as written.
"""

from __future__ import annotations

from bot.i18n.english import shown


def detail_in(text: str, locale: str) -> str:
    """``text`` (a Market failure's detail as the client wrote it) in ``locale``; anything else as written."""
    return shown(locale, text, "market.detail.")
