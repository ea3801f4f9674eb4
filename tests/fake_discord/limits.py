"""Discord's documented limits on what a bot sends, and the error JSON Discord answers with.

Numbers come from Discord's developer documentation (Message / Embed / Component / Application Command
resources) and its public OpenAPI spec (discord-api-spec). Where the two differ we
follow the documented behaviour for bots: message ``content`` is limited to 2,000 characters (the spec's
``maxLength: 4000`` covers user accounts with larger limits, not bots).

Every ``validate_*`` function returns ``None`` when the payload is acceptable, or a :class:`FormError`
whose :meth:`FormError.to_json` is exactly what Discord answers with a ``400``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

# --- messages ---------------------------------------------------------------------------------------
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_TEXT_MAX = 2048
EMBED_AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000
NONCE_MAX = 25
ATTACHMENTS_MAX = 10

# --- components (classic action rows) ---------------------------------------------------------------
ACTION_ROWS_MAX = 5
ROW_COMPONENTS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
BUTTON_URL_MAX = 512
SELECT_OPTIONS_MAX = 25
SELECT_PLACEHOLDER_MAX = 150
SELECT_OPTION_TEXT_MAX = 100
COMPONENTS_V2_TOTAL_MAX = 40
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_IS_COMPONENTS_V2 = 1 << 15

# --- application commands ---------------------------------------------------------------------------
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_VALUE_MAX = 100
COMMAND_TOTAL_TEXT_MAX = 4000
CHAT_INPUT_COMMANDS_MAX = 100
USER_COMMANDS_MAX = 15
MESSAGE_COMMANDS_MAX = 15

# --- interactions -----------------------------------------------------------------------------------
INTERACTION_FIRST_RESPONSE_DEADLINE = 3.0  # seconds from INTERACTION_CREATE to the first callback
INTERACTION_TOKEN_LIFETIME = 15 * 60.0  # follow-ups and edits of the original response
AUTOCOMPLETE_CHOICES_MAX = 25
MODAL_TITLE_MAX = 45
MODAL_ROWS_MAX = 5

# Discord's JSON error codes used by the fake.
INVALID_FORM_BODY = 50035
CANNOT_SEND_EMPTY_MESSAGE = 50006
UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060


@dataclass
class FormError:
    """A ``400 Invalid Form Body`` (or another 4xx Discord error) with Discord's nested ``errors`` map."""

    code: int = INVALID_FORM_BODY
    message: str = "Invalid Form Body"
    errors: dict[str, Any] = field(default_factory=dict)

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def merge(self, prefix: tuple[str | int, ...], other: FormError | None) -> None:
        if other is None:
            return
        node = self.errors
        for part in prefix:
            node = node.setdefault(str(part), {})
        _deep_merge(node, other.errors)

    def __bool__(self) -> bool:
        return bool(self.errors) or self.code != INVALID_FORM_BODY

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def _deep_merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if key == "_errors":
            into.setdefault("_errors", []).extend(value)
        else:
            _deep_merge(into.setdefault(key, {}), value)


def _max_len(err: FormError, path: tuple[str | int, ...], value: Any, limit: int) -> None:
    if isinstance(value, str | list) and len(value) > limit:
        err.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_len(err: FormError, path: tuple[str | int, ...], value: Any, low: int, high: int) -> None:
    if value is None or (isinstance(value, str) and value == "" and low > 0):
        err.add(path, "BASE_TYPE_REQUIRED", "This field is required")
    elif isinstance(value, str | list) and not low <= len(value) <= high:
        err.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _result(err: FormError) -> FormError | None:
    return err if err.errors else None


# ----------------------------------------------------------------------------------------------------
# Messages
# ----------------------------------------------------------------------------------------------------
def embed_text_length(embed: dict[str, Any]) -> int:
    """Characters that count towards the 6,000 total (title, description, fields, footer, author)."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for f in embed.get("fields") or []:
        total += len(f.get("name") or "") + len(f.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def validate_embeds(embeds: Any) -> FormError | None:
    err = FormError()
    if not isinstance(embeds, list):
        err.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return err
    if len(embeds) > EMBEDS_MAX:
        err.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
        return err
    total = 0
    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            err.add((i,), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        _max_len(err, (i, "title"), embed.get("title"), EMBED_TITLE_MAX)
        _max_len(err, (i, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX)
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            err.add((i, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBED_FIELDS_MAX} or fewer in length.")
        for j, f in enumerate(fields):
            _bad_len(err, (i, "fields", j, "name"), f.get("name"), 1, EMBED_FIELD_NAME_MAX)
            _bad_len(err, (i, "fields", j, "value"), f.get("value"), 1, EMBED_FIELD_VALUE_MAX)
        if embed.get("footer") is not None:
            _max_len(err, (i, "footer", "text"), embed["footer"].get("text"), EMBED_FOOTER_TEXT_MAX)
        if embed.get("author") is not None:
            _max_len(err, (i, "author", "name"), embed["author"].get("name"), EMBED_AUTHOR_NAME_MAX)
        total += embed_text_length(embed)
    if total > EMBED_TOTAL_MAX:
        err.add((), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")
    return _result(err)


def _count_components(components: list[dict[str, Any]]) -> int:
    total = 0
    for c in components:
        total += 1
        for key in ("components",):
            total += _count_components(c.get(key) or [])
        if isinstance(c.get("accessory"), dict):
            total += 1
        if isinstance(c.get("component"), dict):
            total += 1
    return total


def _validate_button(err: FormError, path: tuple[str | int, ...], c: dict[str, Any], seen: set[str]) -> None:
    style = c.get("style")
    if style == 5:  # link
        if not c.get("url"):
            err.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        _max_len(err, (*path, "url"), c.get("url"), BUTTON_URL_MAX)
        if c.get("custom_id") is not None:
            err.add(
                (*path, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED", "A link button cannot have a custom id"
            )
    elif style != 6:  # premium buttons carry a sku_id instead
        _validate_custom_id(err, (*path, "custom_id"), c.get("custom_id"), seen)
    _max_len(err, (*path, "label"), c.get("label"), BUTTON_LABEL_MAX)


def _validate_custom_id(err: FormError, path: tuple[str | int, ...], custom_id: Any, seen: set[str]) -> None:
    _bad_len(err, path, custom_id, 1, CUSTOM_ID_MAX)
    if isinstance(custom_id, str):
        if custom_id in seen:
            err.add(path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
        seen.add(custom_id)


def _validate_select(err: FormError, path: tuple[str | int, ...], c: dict[str, Any], seen: set[str]) -> None:
    _validate_custom_id(err, (*path, "custom_id"), c.get("custom_id"), seen)
    _max_len(err, (*path, "placeholder"), c.get("placeholder"), SELECT_PLACEHOLDER_MAX)
    options = c.get("options")
    if c.get("type") == 3:  # string select
        if not options:
            err.add((*path, "options"), "BASE_TYPE_REQUIRED", "This field is required")
        else:
            _max_len(err, (*path, "options"), options, SELECT_OPTIONS_MAX)
            for k, opt in enumerate(options):
                _bad_len(err, (*path, "options", k, "label"), opt.get("label"), 1, SELECT_OPTION_TEXT_MAX)
                _bad_len(err, (*path, "options", k, "value"), opt.get("value"), 1, SELECT_OPTION_TEXT_MAX)
                _max_len(err, (*path, "options", k, "description"), opt.get("description"), SELECT_OPTION_TEXT_MAX)
    for key, low in (("min_values", 0), ("max_values", 1)):
        value = c.get(key)
        if value is not None and not low <= int(value) <= SELECT_OPTIONS_MAX:
            err.add((*path, key), "NUMBER_TYPE_OUT_OF_RANGE", f"Value must be between {low} and 25.")


def validate_components(components: Any, *, flags: int = 0) -> FormError | None:
    err = FormError()
    if not isinstance(components, list):
        err.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return err
    seen: set[str] = set()
    if flags & FLAG_IS_COMPONENTS_V2:
        if _count_components(components) > COMPONENTS_V2_TOTAL_MAX:
            err.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {COMPONENTS_V2_TOTAL_MAX} or fewer in length.")
        return _result(err)
    if len(components) > ACTION_ROWS_MAX:
        err.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS_MAX} or fewer in length.")
        return err
    for i, row in enumerate(components):
        if not isinstance(row, dict) or row.get("type") != 1:
            err.add((i, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).')
            continue
        children = row.get("components") or []
        _bad_len(err, (i, "components"), children, 1, ROW_COMPONENTS_MAX)
        kinds = {c.get("type") for c in children}
        if len(children) > 1 and kinds & {3, 5, 6, 7, 8}:
            err.add(
                (i, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, c in enumerate(children):
            path: tuple[str | int, ...] = (i, "components", j)
            if c.get("type") == 2:
                _validate_button(err, path, c, seen)
            elif c.get("type") in (3, 5, 6, 7, 8):
                _validate_select(err, path, c, seen)
            elif c.get("type") == 4:
                err.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Text inputs are only valid in modals")
    return _result(err)


def validate_message(payload: dict[str, Any], *, partial: bool = False, has_files: bool = False) -> FormError | None:
    """Validate a message create (``partial=False``) or edit (``partial=True``) body."""
    err = FormError()
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            err.add(("content",), "BASE_TYPE_STRING", "Must be a string.")
        else:
            _max_len(err, ("content",), content, CONTENT_MAX)
    if payload.get("embeds") is not None:
        err.merge(("embeds",), validate_embeds(payload["embeds"]))
    elif payload.get("embed") is not None:
        err.merge(("embed",), validate_embeds([payload["embed"]]))
    if payload.get("components") is not None:
        err.merge(("components",), validate_components(payload["components"], flags=int(payload.get("flags") or 0)))
    nonce = payload.get("nonce")
    if isinstance(nonce, str):
        _max_len(err, ("nonce",), nonce, NONCE_MAX)
    if payload.get("attachments") is not None:
        _max_len(err, ("attachments",), payload["attachments"], ATTACHMENTS_MAX)
    if err.errors:
        return err
    if (
        not partial
        and not has_files
        and not any(
            payload.get(k) for k in ("content", "embeds", "embed", "components", "sticker_ids", "poll", "attachments")
        )
    ):
        return FormError(code=CANNOT_SEND_EMPTY_MESSAGE, message="Cannot send an empty message")
    return None


# ----------------------------------------------------------------------------------------------------
# Application commands
# ----------------------------------------------------------------------------------------------------
def is_valid_command_name(name: Any, *, chat_input: bool = True) -> bool:
    """``^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``, lowercase where a lowercase variant exists.

    User and message commands may use any characters (including spaces), 1-32 long.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX:
        return False
    if not chat_input:
        return True
    for ch in name:
        if ch in "-_":
            continue
        category = unicodedata.category(ch)
        if category[0] not in "LN" and not _is_deva_or_thai(ch):
            return False
    return name == name.lower()


def _is_deva_or_thai(ch: str) -> bool:
    return 0x0900 <= ord(ch) <= 0x097F or 0x0E00 <= ord(ch) <= 0x0E7F


def _command_text_length(payload: dict[str, Any]) -> int:
    total = len(payload.get("name") or "") + len(payload.get("description") or "")
    for opt in payload.get("options") or []:
        total += _command_text_length(opt)
        for choice in opt.get("choices") or []:
            total += len(str(choice.get("name") or "")) + len(str(choice.get("value") or ""))
    return total


# Discord's locales (https://discord.com/developers/docs/reference#locales): the keys of *_localizations.
DISCORD_LOCALES = frozenset(
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el bg ru uk hi th "  # noqa: SIM905
    "zh-CN ja zh-TW ko".split()
)


def _validate_localizations(
    err: FormError, path: tuple[str | int, ...], payload: dict[str, Any], *, chat_input: bool = True
) -> None:
    """``name_localizations`` follow the name's rules, ``description_localizations`` the description's (1-100),
    keyed by Discord's locales only."""
    for key, valid in (
        ("name_localizations", lambda v: is_valid_command_name(v, chat_input=chat_input)),
        ("description_localizations", lambda v: isinstance(v, str) and 1 <= len(v) <= COMMAND_DESCRIPTION_MAX),
    ):
        localizations = payload.get(key)
        if localizations is None:
            continue
        if not isinstance(localizations, dict):
            err.add((*path, key), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        for locale, value in localizations.items():
            if locale not in DISCORD_LOCALES:
                err.add((*path, key, locale), "LOCALE_INVALID", "Invalid locale")
            elif not valid(value):
                code = "APPLICATION_COMMAND_INVALID_NAME" if key == "name_localizations" else "BASE_TYPE_BAD_LENGTH"
                err.add((*path, key, locale), code, "Localization is invalid")


def _validate_options(err: FormError, path: tuple[str | int, ...], options: Any, depth: int) -> None:
    if not isinstance(options, list):
        err.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return
    if len(options) > COMMAND_OPTIONS_MAX:
        err.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_OPTIONS_MAX} or fewer in length.")
    names: set[str] = set()
    seen_optional = False
    for i, opt in enumerate(options):
        p = (*path, i)
        kind = opt.get("type")
        name = opt.get("name")
        if not is_valid_command_name(name):
            err.add((*p, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        elif name in names:
            err.add((*p, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option name already exists")
        else:
            names.add(name)
        _bad_len(err, (*p, "description"), opt.get("description"), 1, COMMAND_DESCRIPTION_MAX)
        _validate_localizations(err, p, opt)
        if kind in (1, 2):
            if (kind == 2 and depth > 0) or (kind == 1 and depth > 1):
                err.add((*p, "type"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-command nesting is too deep")
            children = opt.get("options") or []
            if kind == 2 and any(c.get("type") != 1 for c in children):
                err.add(
                    (*p, "options"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "A group may only hold sub-commands"
                )
            if kind == 1 and any(c.get("type") in (1, 2) for c in children):
                err.add(
                    (*p, "options"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "A sub-command cannot nest sub-commands"
                )
            _validate_options(err, (*p, "options"), children, depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                err.add(
                    (*p, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices:
            if opt.get("autocomplete"):
                err.add(
                    (*p, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                    "Autocomplete cannot be set with choices",
                )
            if len(choices) > COMMAND_CHOICES_MAX:
                err.add((*p, "choices"), "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_CHOICES_MAX} or fewer in length.")
            for k, choice in enumerate(choices):
                _bad_len(err, (*p, "choices", k, "name"), choice.get("name"), 1, CHOICE_NAME_MAX)
                for locale, value in (choice.get("name_localizations") or {}).items():
                    if locale not in DISCORD_LOCALES:
                        err.add((*p, "choices", k, "name_localizations", locale), "LOCALE_INVALID", "Invalid locale")
                    else:
                        _bad_len(err, (*p, "choices", k, "name_localizations", locale), value, 1, CHOICE_NAME_MAX)
                if isinstance(choice.get("value"), str):
                    _max_len(err, (*p, "choices", k, "value"), choice["value"], CHOICE_STRING_VALUE_MAX)
        for key, low, high in (("min_length", 0, 6000), ("max_length", 1, 6000)):
            value = opt.get(key)
            if value is not None and not low <= int(value) <= high:
                err.add((*p, key), "NUMBER_TYPE_OUT_OF_RANGE", f"Value must be between {low} and {high}.")


def validate_command(payload: Any) -> FormError | None:
    """Validate one application command create/overwrite body."""
    err = FormError()
    if not isinstance(payload, dict):
        err.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return err
    kind = payload.get("type", 1) or 1
    chat_input = kind == 1
    if not is_valid_command_name(payload.get("name"), chat_input=chat_input):
        err.add(("name",), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    _validate_localizations(err, (), payload, chat_input=chat_input)
    description = payload.get("description")
    if chat_input:
        _bad_len(err, ("description",), description, 1, COMMAND_DESCRIPTION_MAX)
        _validate_options(err, ("options",), payload.get("options") or [], 0)
        if _command_text_length(payload) > COMMAND_TOTAL_TEXT_MAX:
            err.add((), "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({COMMAND_TOTAL_TEXT_MAX})")
    else:
        if description:
            err.add(
                ("description",),
                "APPLICATION_COMMAND_DESCRIPTION_INVALID",
                "Description must be empty for this command type",
            )
        if payload.get("options"):
            err.add(
                ("options",), "APPLICATION_COMMAND_OPTIONS_INVALID", "Options are only valid for chat input commands"
            )
    return _result(err)


def validate_command_list(payloads: Any) -> FormError | None:
    """Validate a bulk overwrite (``PUT .../commands``): each command, counts per type, unique names."""
    err = FormError()
    if not isinstance(payloads, list):
        err.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return err
    seen: set[tuple[int, str]] = set()
    counts = {1: 0, 2: 0, 3: 0}
    for i, payload in enumerate(payloads):
        err.merge((i,), validate_command(payload))
        if not isinstance(payload, dict):
            continue
        kind = int(payload.get("type", 1) or 1)
        counts[kind] = counts.get(kind, 0) + 1
        key = (kind, str(payload.get("name")))
        if key in seen:
            err.add((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
        seen.add(key)
    for kind, limit in ((1, CHAT_INPUT_COMMANDS_MAX), (2, USER_COMMANDS_MAX), (3, MESSAGE_COMMANDS_MAX)):
        if counts.get(kind, 0) > limit:
            err.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer commands of type {kind}.")
    return _result(err)


# ----------------------------------------------------------------------------------------------------
# Interaction callbacks
# ----------------------------------------------------------------------------------------------------
ALLOWED_RESPONSE_TYPES = {
    2: {4, 5, 9, 10, 12},  # application command
    3: {4, 5, 6, 7, 9, 10, 12},  # message component
    4: {8},  # autocomplete
    5: {4, 5, 6, 7, 10, 12},  # modal submit
}


def validate_interaction_callback(interaction_type: int, body: Any) -> FormError | None:
    err = FormError()
    if not isinstance(body, dict):
        err.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return err
    kind = body.get("type")
    if kind not in ALLOWED_RESPONSE_TYPES.get(interaction_type, set()):
        err.add(
            ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid for this interaction"
        )
        return err
    data = body.get("data") or {}
    if kind == 4:
        err.merge(("data",), validate_message(data))
    elif kind == 7:
        err.merge(("data",), validate_message(data, partial=True))
    elif kind == 8:
        choices = data.get("choices") or []
        if len(choices) > AUTOCOMPLETE_CHOICES_MAX:
            err.add(
                ("data", "choices"), "BASE_TYPE_MAX_LENGTH", f"Must be {AUTOCOMPLETE_CHOICES_MAX} or fewer in length."
            )
        for k, choice in enumerate(choices):
            _bad_len(err, ("data", "choices", k, "name"), choice.get("name"), 1, CHOICE_NAME_MAX)
    elif kind == 9:
        _bad_len(err, ("data", "title"), data.get("title"), 1, MODAL_TITLE_MAX)
        _bad_len(err, ("data", "custom_id"), data.get("custom_id"), 1, CUSTOM_ID_MAX)
        _bad_len(err, ("data", "components"), data.get("components"), 1, MODAL_ROWS_MAX)
    return _result(err)
