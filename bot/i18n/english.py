"""English sentences with values, written by a lower layer, in the reader's language.

:meth:`~bot.i18n.catalog.Catalogs.localize_english` finds a whole English sentence in the catalog (an exact
look-up, for a sentence without values). Some
modules (the shop's money modules: validation, import, push) build their English sentences with values in
them (``'usd' must be exactly 3 upper-case Latin letters, e.g. USD or EUR.``) and are kept free of
translation. Here each English catalog message under a prefix is read as a pattern: its text literally, each
``{placeholder}`` any text. A sentence that matches one is shown as that message in the reader's language
with the values it held; a value may itself be an English sentence of another prefix (``nested``) or be
reshown the reader's way (a function of the value and the locale).

The English catalog text must be exactly what the lower layer writes: the tests hold every sentence those
modules produce to a message. A sentence no message matches is shown as it is; with ``shown(..., warn=True)``,
as the shop's callers (:mod:`bot.shop.localized`) ask for a lower layer's own sentence, a warning is logged too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from functools import cache
from string import Formatter

from bot.i18n.catalog import DEFAULT_LOCALE, catalogs, t

log = logging.getLogger(__name__)

Shown = Mapping[str, str | tuple[str, ...] | Callable[[str, str], str]]
"""Placeholder name -> the prefix(es) its value is itself shown under, or ``f(value, locale)``."""
Nested = Shown


def _pattern(template: str) -> re.Pattern[str]:
    """The template's literal text (``{{`` and ``}}`` are braces), each placeholder any text (the same
    placeholder twice: the same text)."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, name, _spec, _conversion in Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


def _literal_length(template: str) -> int:
    return sum(len(literal) for literal, *_ in Formatter().parse(template))


@cache
def patterns(prefix: str | tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The English messages under ``prefix`` (or any of several) as patterns, the most literal text first (the
    most specific)."""
    english = catalogs().languages[DEFAULT_LOCALE].messages
    found = [
        (msg_id, value) for msg_id, value in english.items() if msg_id.startswith(prefix) and isinstance(value, str)
    ]
    found.sort(key=lambda item: (-_literal_length(item[1]), item[0]))
    return tuple((msg_id, _pattern(value)) for msg_id, value in found)


def match(text: str, prefix: str | tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
    """The id under ``prefix`` whose English text ``text`` is, and the values it holds; ``None``: no match."""
    for msg_id, pattern in patterns(prefix):
        found = pattern.fullmatch(text)
        if found is not None:
            return msg_id, found.groupdict()
    return None


def shown(
    locale: str, text: str, prefix: str | tuple[str, ...], nested: Shown | None = None, *, warn: bool = False
) -> str:
    """``text`` in ``locale`` if it is the English text of a message under ``prefix`` (values shown per
    ``nested``); otherwise ``text`` exactly as it is (recorded or written data: nothing is lost). ``warn`` logs a
    text no message matches (for a lower layer's own sentence, whose wording must stay its message's)."""
    found = match(text, prefix)
    if found is None:
        if warn:
            log.warning("english sentence not in the catalog prefix=%s", prefix)
        return text
    msg_id, values = found
    out: dict[str, object] = dict(values)
    for name, how in (nested or {}).items():
        if name in values:
            out[name] = how(values[name], locale) if callable(how) else shown(locale, values[name], how, warn=warn)
    return t(locale, msg_id, **out)
