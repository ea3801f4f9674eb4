"""Why a signed webhook was quarantined, in the reader's language.

:func:`bot.webhooks.validation.classify` (a mutation-tested module) records its reason as a short English
text, stored with the body; this module shows a stored reason in the audit channel's language by matching
the known texts, so the classification itself does not change. A text it does not know is shown as stored.
"""

from __future__ import annotations

import re
from typing import Final

from bot.i18n.catalog import t

_FIXED: Final = {
    "unknown kind": "webhook.reason.unknown_kind",
    "unique_id must be an integer": "webhook.reason.unique_id_integer",
    "unique_id out of range": "webhook.reason.unique_id_range",
    "amount must be a number": "webhook.reason.amount_number",
    "amount must be positive": "webhook.reason.amount_positive",
    "amount is implausibly large": "webhook.reason.amount_large",
    "username is not a plausible login": "webhook.reason.username",
    "item_id is not a plausible item code": "webhook.reason.item_id",
}
_MISSING: Final = re.compile(r"missing (?P<fields>[a-z_,]+)")
_UNEXPECTED: Final = re.compile(r"(?P<count>\d+) unexpected field\(s\)")


def _part(text: str, locale: str) -> str:
    if text in _FIXED:
        return t(locale, _FIXED[text])
    if found := _MISSING.fullmatch(text):
        return t(locale, "webhook.reason.missing", fields=found["fields"])
    if found := _UNEXPECTED.fullmatch(text):
        return t(locale, "webhook.reason.unexpected", count=found["count"])
    return text


def reason_text(reason: str, locale: str) -> str:
    """A stored quarantine reason (``missing amount; 2 unexpected field(s)``) in ``locale``."""
    return "; ".join(_part(part, locale) for part in reason.split("; "))
