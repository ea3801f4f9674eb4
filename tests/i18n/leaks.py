"""Find English catalog text in something rendered for a Russian reader.

Every English message is cut at its placeholders and markup into fragments; a fragment of two words or more
that is not also in the Russian catalog (names such as ``Crypto Pay`` are the same in both) must not appear in
a Russian page or answer. That catches a string that reached the reader without going through the catalog.
"""

from __future__ import annotations

import html
import re
from functools import cache

from bot.i18n import catalogs

_CUT = re.compile(r"\{[^}]*\}|<[^>]*>")
_TAG = re.compile(r"<[^>]*>")


def _forms(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


@cache
def english_fragments() -> frozenset[str]:
    russian = " ".join(form for m in catalogs().ids("ru") for form in _forms(catalogs().raw("ru", m)))
    found = set()
    for msg_id in catalogs().ids("en"):
        for form in _forms(catalogs().raw("en", msg_id)):
            for piece in _CUT.split(form):
                piece = piece.strip(" .,:;()·—-")
                if len(piece.split()) >= 2 and piece not in russian:
                    found.add(piece)
    return frozenset(found)


def text_of(page: str) -> str:
    """The text a reader sees in an HTML page (tags dropped, entities decoded, spaces collapsed)."""
    return " ".join(html.unescape(_TAG.sub(" ", page)).split())


def english_in(text: str) -> list[str]:
    """The English catalog fragments in ``text`` (spaces collapsed first)."""
    flat = " ".join(text.split())
    return sorted(fragment for fragment in english_fragments() if fragment in flat)


def test_the_detector_finds_english_and_passes_russian() -> None:
    from bot.i18n import t

    assert english_in("Статус: " + t("en", "order.check.pending")) != []
    assert english_in(t("ru", "order.check.pending")) == []
