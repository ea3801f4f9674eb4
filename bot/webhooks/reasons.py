"""Why a signed webhook was quarantined, in the reader's language.

:func:`bot.webhooks.validation.classify` (a mutation-tested module) records its reason as a short English
text, stored with the body; this module shows a stored reason in the audit channel's language by matching
each part against the ``webhook.reason.*`` messages, whose English is what ``classify`` writes
(:func:`bot.i18n.english.shown`), so the classification itself does not change. A part it does not know is
shown as stored.
"""

from __future__ import annotations

from bot.i18n.english import shown


def reason_text(reason: str, locale: str) -> str:
    """A stored quarantine reason (``missing amount; 2 unexpected field(s)``) in ``locale``."""
    return "; ".join(shown(locale, part, "webhook.reason.") for part in reason.split("; "))
