"""English and Russian for everything a person reads: message catalogs, locale negotiation, formats.

- :mod:`bot.i18n.catalog`: the gettext ``.po`` catalogs (``locales/<lang>/LC_MESSAGES/messages.po``), read
  with Babel; symbolic message ids (``order.state.paid``), placeholders by name (``{login}``), plurals by
  the catalog's own ``Plural-Forms`` (Russian: 1 подписка, 2 подписки, 5 подписок).
- :mod:`bot.i18n.formats`: numbers, money, dates and relative times per locale (CLDR data through Babel).
- :mod:`bot.i18n.negotiation`: which of our languages a Discord locale, an ``Accept-Language`` header or a
  cookie asks for.

Logs and the CLI stay English and do not use this package.
"""

from __future__ import annotations

from bot.i18n.catalog import DEFAULT_LOCALE, LOCALES, Catalogs, catalogs, t, t_html
from bot.i18n.formats import date_time, money, number, relative
from bot.i18n.negotiation import from_accept_language, from_discord, supported

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "Catalogs",
    "catalogs",
    "date_time",
    "from_accept_language",
    "from_discord",
    "money",
    "number",
    "relative",
    "supported",
    "t",
    "t_html",
]
