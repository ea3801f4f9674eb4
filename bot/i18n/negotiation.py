"""Which of our languages a person reads: from a Discord locale, an ``Accept-Language`` header, a cookie.

Only the language part counts (``en-GB`` and ``en-US`` are English, ``ru`` is Russian); a language we have no
catalog for gives ``None`` so the caller falls back (to the server's ``BOT_LOCALE`` or English).
"""

from __future__ import annotations

from bot.i18n.catalog import DEFAULT_LOCALE, LOCALES


def supported(tag: str | None) -> str | None:
    """``"ru-RU"`` -> ``"ru"``, ``"en_GB"`` -> ``"en"``, ``"de"`` / ``""`` / ``None`` -> ``None``."""
    if not tag:
        return None
    language = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return language if language in LOCALES else None


def from_discord(locale: object, fallback: str = DEFAULT_LOCALE) -> str:
    """A Discord locale (``discord.Locale`` or its value, e.g. ``ru``, ``en-US``) -> ``en`` or ``ru``."""
    value = getattr(locale, "value", locale)
    return supported(value if isinstance(value, str) else None) or fallback


def from_accept_language(header: str | None) -> str | None:
    """The supported language the browser prefers most (``q`` weights honoured, ``q=0`` excluded)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language = supported(tag)
        if language is not None and weight > 0:
            ranked.append((-weight, position, language))
    return min(ranked)[2] if ranked else None
