"""The message catalogs: one gettext ``.po`` file per language, read once with Babel.

Message ids are symbolic (``order.page.pay_button``), never English sentences, so an English wording can
change without touching the Russian file. A message's placeholders are named, ``{login}``, and filled with
:meth:`str.format`; the English text is the reference a test holds every translation to.

A plural message has ``msgid_plural`` and one ``msgstr[i]`` per form of the language; the form is chosen by
the ``Plural-Forms`` expression in the file's header (the same one GNU gettext uses) from the ``count``
argument, which is also shown formatted for the locale.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Final

from babel.messages.pofile import read_po
from babel.numbers import format_decimal

if TYPE_CHECKING:  # markupsafe (jinja2's) is imported when a page is rendered, not at start-up
    from markupsafe import Markup

log = logging.getLogger(__name__)

LOCALES: Final = ("en", "ru")
DEFAULT_LOCALE: Final = "en"
DOMAIN: Final = "messages"


@dataclass(frozen=True, slots=True)
class Language:
    """One language's messages: ``id -> text`` or ``id -> (form0, form1, ...)`` and its plural rule."""

    code: str
    messages: Mapping[str, str | tuple[str, ...]]
    plural: Callable[[int], int]


def _read(code: str) -> Language:
    path = resources.files("bot.i18n") / "locales" / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=code, domain=DOMAIN)
    messages: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id:
            continue  # the header
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        value = message.string
        if isinstance(value, tuple | list):
            if all(value):
                messages[key] = tuple(value)
        elif value:
            messages[key] = value
    plural = gettext.c2py(catalog.plural_expr)
    return Language(code, messages, plural)


class Catalogs:
    """Every language's messages; :meth:`text` looks one up, falling back to English."""

    def __init__(self, languages: Mapping[str, Language]) -> None:
        if DEFAULT_LOCALE not in languages:
            raise ValueError(f"the {DEFAULT_LOCALE} catalog is required")
        self.languages = dict(languages)
        self._by_english: dict[str, tuple[str, ...]] | None = None

    @classmethod
    def load(cls) -> Catalogs:
        return cls({code: _read(code) for code in LOCALES})

    def ids(self, code: str = DEFAULT_LOCALE) -> frozenset[str]:
        return frozenset(self.languages[code].messages)

    def raw(self, code: str, msg_id: str) -> str | tuple[str, ...] | None:
        language = self.languages.get(code)
        return None if language is None else language.messages.get(msg_id)

    def id_of_english(self, text: str, prefix: str | tuple[str, ...] = "") -> str | None:
        """The id under ``prefix`` (or any of several) whose English text is ``text`` (the first in the
        catalog's order): for a sentence a lower layer raises or records in English (an exception's message),
        so the page or answer can show it in the reader's language."""
        for msg_id in self._english_ids().get(text, ()):
            if msg_id.startswith(prefix):
                return msg_id
        return None

    def localize_english(self, code: str, text: str, prefix: str | tuple[str, ...] = "", *, warn: bool = True) -> str:
        """``text`` (an English catalog sentence under ``prefix``) in language ``code``; unknown text as is
        (logged unless ``warn`` is false: recorded or written data that may be anything)."""
        msg_id = self.id_of_english(text, prefix)
        if msg_id is None:
            if warn:
                log.warning("english text not in the catalog prefix=%s", prefix)
            return text
        return self.text(code, msg_id)

    def _english_ids(self) -> dict[str, tuple[str, ...]]:
        """English text -> the ids with that text, in the catalog's order (built on first use)."""
        if self._by_english is None:
            found: dict[str, list[str]] = {}
            for msg_id, value in self.languages[DEFAULT_LOCALE].messages.items():
                if isinstance(value, str):
                    found.setdefault(value, []).append(msg_id)
            self._by_english = {text: tuple(ids) for text, ids in found.items()}
        return self._by_english

    def text(self, code: str, msg_id: str, /, **values: object) -> str:
        """The message ``msg_id`` in language ``code`` (English when it lacks one), placeholders filled.

        An id unknown even in English is a programming error: :class:`KeyError`.
        """
        language = self.languages.get(code) or self.languages[DEFAULT_LOCALE]
        found = language.messages.get(msg_id)
        if found is None:
            language = self.languages[DEFAULT_LOCALE]
            found = language.messages[msg_id]
            if code != DEFAULT_LOCALE:
                log.warning("message has no translation id=%s locale=%s", msg_id, code)
        if isinstance(found, tuple):
            count = values.get("count")
            if not isinstance(count, int | Decimal):
                raise TypeError(f"plural message {msg_id} needs an integer count")
            index = language.plural(int(count))
            template = found[min(index, len(found) - 1)]
            values = {**values, "count": format_decimal(count, locale=language.code)}
        else:
            template = found
        return template.format(**values) if values else template


@cache
def catalogs() -> Catalogs:
    """The package's catalogs, read on first use (package data, the same for the process's whole life)."""
    return Catalogs.load()


def t(code: str, msg_id: str, /, **values: object) -> str:
    """Shortcut: ``t("ru", "order.state.paid")``."""
    return catalogs().text(code, msg_id, **values)


def t_known(code: str, msg_id: str, otherwise: str) -> str:
    """The message ``msg_id`` in language ``code`` when the catalogs have it, else ``otherwise`` (a recorded
    value with no message of its own, shown as written)."""
    return t(code, msg_id) if catalogs().raw(DEFAULT_LOCALE, msg_id) is not None else otherwise


def t_html(code: str, msg_id: str, /, **values: object) -> Markup:
    """A message with markup (its id ends in ``_html``) for a page: the catalog's text is trusted (package
    data, reviewed like code), every value is HTML-escaped unless it is itself :class:`Markup`."""
    if not msg_id.endswith("_html"):
        raise ValueError(f"{msg_id} is not an _html message")
    from markupsafe import Markup

    return Markup(catalogs().text(code, msg_id)).format(**values)  # noqa: S704 - our own catalog; values escaped
