"""What the whole-bot test (``test_everything_in_russian.py``) checks in every text the bot sent.

:func:`texts_sent` collects every human-readable string of every request the bot made to the fake Discord
(message content, embeds, buttons, selects, modals; command registration is left out: it carries every
language by design). :func:`latin_runs` finds two or more Latin-alphabet words in a row — what English
left in a Russian text looks like — outside an allowlist of names that are the same in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from tests.fake_discord import FakeDiscord

TEXT_KEYS = frozenset({"content", "title", "description", "name", "value", "text", "label", "placeholder"})
"""The keys of Discord payloads whose strings a person reads (embeds, fields, footers, components, modals)."""

ALLOWED_RUNS = (
    # product and company names, the currency, the payment provider and its bot's menu
    "Crypto Pay",
    "Neverlose Market",
    "CS:GO",
    "Wallet → Send",
    "Redirect URL",  # the name of the setting in Neverlose's API settings page
    # Discord's own words for a refusal (shown as Discord wrote them, after a translated lead)
    "Missing Permissions",
    "Cannot send messages to this user",
    "Unknown Role",
    # the test data: manual payment instructions, a refund note typed by staff, a bank reference
    "IBAN DE",
    "bank ref",
    "sent back by bank transfer",
    "sent back from @CryptoBot",
    # Markdown links shown as text: [label](url) keeps its label
)
"""Runs of Latin words a Russian text may contain: names, and values typed by people in the test data."""

_URL = re.compile(r"https?://\S+|<[@#&!:a-z0-9]*\d+>|<t:\d+(?::[A-Za-z])?>")
_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)
_WORD = r"(?<![\w@#/.-])[A-Za-z][A-Za-z'’]*(?![\w/-])"  # a word, not part of a login, id, path or handle
_RUN = re.compile(rf"{_WORD}(?:[ \t\u00a0]+{_WORD})+")


def _strings(value: Any, key: str | None = None) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, str) and key in TEXT_KEYS:
        yield value


def texts_sent(fake: FakeDiscord) -> list[str]:
    """Every readable string the bot sent to Discord so far (messages, DMs, interaction answers, edits)."""
    found = []
    for call in fake.calls:
        if call.method not in ("POST", "PATCH", "PUT") or call.path.startswith("/applications/"):
            continue
        if call.json is not None:
            found.extend(_strings(call.json))
    return found


def latin_runs(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The runs of two or more Latin words in ``text`` that are not allowed (URLs, mentions, timestamps and
    code blocks — quoted data such as a webhook body — are not prose and are skipped)."""
    flat = _URL.sub(" ", _CODE_BLOCK.sub(" ", text))
    for name in (*ALLOWED_RUNS, *allowed):
        flat = flat.replace(name, " ")
    return [run for run in _RUN.findall(flat) if len(run.split()) >= 2]


_NOT_SHOWN = re.compile(r"<(style|script)\b.*?</\1>", re.DOTALL | re.IGNORECASE)


def page_text(html: str) -> str:
    """What a reader sees of a page: :func:`tests.i18n.leaks.text_of` without style sheets and scripts."""
    from tests.i18n.leaks import text_of

    return text_of(_NOT_SHOWN.sub(" ", html))
