"""Discord localizations of the slash commands: names, descriptions, options and choices from the catalogs.

discord.py asks :class:`CommandTranslator` for every locale Discord has while it builds the payload it syncs;
we answer for the languages we have (``ru``; English is the commands' own text) and ``None`` otherwise.
Ids follow the command's path: ``cmd.shop.price.set.name``, ``cmd.shop.price.set.description``,
``cmd.shop.price.set.param.currency.name`` / ``.description``; a choice is found by its English name under
``choice.`` (``choice.30_days``). A text without a translation stays English (and the tests fail).
"""

from __future__ import annotations

from discord import Locale, app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n.catalog import DEFAULT_LOCALE, Catalogs, catalogs
from bot.i18n.negotiation import supported

_NAME = {Where.command_name, Where.group_name}
_DESCRIPTION = {Where.command_description, Where.group_description}


def _path(data: object) -> str | None:
    qualified = getattr(data, "qualified_name", None)
    return "cmd." + qualified.replace(" ", ".") if isinstance(qualified, str) else None


def message_id(string: app_commands.locale_str, context: app_commands.TranslationContextTypes) -> str | None:
    """The catalog id of one command text (``None`` for what we do not translate)."""
    location, data = context.location, context.data
    if location in _NAME and (path := _path(data)):
        return f"{path}.name"
    if location in _DESCRIPTION and (path := _path(data)):
        return f"{path}.description"
    if location in (Where.parameter_name, Where.parameter_description):
        path = _path(getattr(data, "command", None))
        name = getattr(data, "display_name", None)
        if path is None or not isinstance(name, str):
            return None
        return f"{path}.param.{name}.{'name' if location is Where.parameter_name else 'description'}"
    if location is Where.choice_name:
        return catalogs().id_of_english(string.message, "choice.")
    return None


class CommandTranslator(app_commands.Translator):
    """``bot.tree.set_translator(CommandTranslator())`` before the commands are synced."""

    def __init__(self, source: Catalogs | None = None) -> None:
        self._source = source

    async def translate(
        self, string: app_commands.locale_str, locale: Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        language = supported(locale.value)
        if language is None or language == DEFAULT_LOCALE:
            return None
        msg_id = message_id(string, context)
        source = self._source or catalogs()
        if msg_id is None or source.raw(language, msg_id) is None:
            return None
        return source.text(language, msg_id)
