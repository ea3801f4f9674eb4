"""Cards: one Discord message per key (e.g. per order), posted once and then EDITED as its subject changes.

A card is queued like any notification, as outbox rows for the target ``card:<kind>:<key>`` (``kind`` a
channel kind such as ``orders``), each row the whole card as it should look now: its embeds and, in the
row's ``content`` column, the JSON of its message components (buttons; a card never has text content).
Each row's dedupe key is ``<target>:<version>`` (the version says which state of the subject it shows, so
queueing the same state twice adds one row).

Delivery (``NotificationDispatcher``, the ``card:`` branch): only the NEWEST pending row of a card is
delivered; older pending rows are superseded by it (a burst of changes becomes one post or one edit).

- No message yet: the row is claimed with a nonce and POSTed with ``enforce_nonce`` exactly like any other
  outbox row, so a crash after Discord created it re-sends the same nonce and gets the same message back
  (never posted twice). A row claimed by an earlier, interrupted attempt is re-sent first, then edited to
  the newest state.
- A message exists (the message id of the card's newest delivered row, found through the dedupe-key index):
  PATCH it. Edits are idempotent, so they need no nonce. When Discord says the message is gone (deleted by
  someone, or the channel was changed with ``/setup``) the card is posted afresh in the current channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.notifications.embeds import Embed, check_message

Component = dict[str, Any]
"""A message component as Discord's JSON: an action row (type 1) holding buttons (type 2)."""

MAX_ACTION_ROWS = 5
MAX_BUTTONS_PER_ROW = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
CARD_PREFIX = "card:"

BUTTON_STYLES = {"primary": 1, "secondary": 2, "success": 3, "danger": 4}
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_VERSION = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def card_target(kind: str, key: str) -> str:
    """``card:<kind>:<key>``; ``ValueError`` for a key that is not 1-64 URL-safe characters."""
    if not _KEY.fullmatch(key):
        raise ValueError("a card key is 1 to 64 URL-safe characters")
    return f"{CARD_PREFIX}{kind}:{key}"


def card_dedupe_key(target: str, version: str) -> str:
    """The dedupe key of the card row showing ``version`` (1-40 of ``[A-Za-z0-9_.-]``)."""
    if not _VERSION.fullmatch(version):
        raise ValueError("a card version is 1 to 40 characters of [A-Za-z0-9_.-]")
    return f"{target}:{version}"


def card_key_range(target: str) -> tuple[str, str]:
    """Bounds (inclusive, exclusive) of the dedupe keys of ``target``'s rows (``:`` + 1 = ``;``)."""
    return f"{target}:", f"{target};"


def button(label: str, custom_id: str, *, style: str = "secondary") -> Component:
    return {"type": 2, "style": BUTTON_STYLES[style], "label": label, "custom_id": custom_id}


def action_row(*buttons: Component) -> Component:
    return {"type": 1, "components": list(buttons)}


def check_components(components: Sequence[Component]) -> None:
    """Raise ``ValueError`` unless ``components`` are action rows of buttons within Discord's limits."""
    if len(components) > MAX_ACTION_ROWS:
        raise ValueError(f"more than {MAX_ACTION_ROWS} action rows")
    seen: set[str] = set()
    for row in components:
        if not isinstance(row, dict) or row.get("type") != 1:
            raise ValueError("a card's components are action rows")
        buttons = row.get("components")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS_PER_ROW:
            raise ValueError(f"an action row holds 1 to {MAX_BUTTONS_PER_ROW} buttons")
        for item in buttons:
            if not isinstance(item, dict) or item.get("type") != 2:
                raise ValueError("an action row of a card holds buttons")
            label = str(item.get("label", ""))
            custom_id = str(item.get("custom_id", ""))
            if not 1 <= len(label) <= MAX_BUTTON_LABEL:
                raise ValueError(f"a button label is 1 to {MAX_BUTTON_LABEL} characters")
            if not 1 <= len(custom_id) <= MAX_CUSTOM_ID or custom_id in seen:
                raise ValueError(f"a button custom_id is 1 to {MAX_CUSTOM_ID} characters and unique")
            seen.add(custom_id)


def encode_components(components: Sequence[Component]) -> str:
    check_components(components)
    return json.dumps(list(components), separators=(",", ":"), ensure_ascii=False)


def decode_components(content: str | None) -> list[Component]:
    """The components stored in a card row's ``content`` (``[]`` when there are none)."""
    if not content:
        return []
    value: Any = json.loads(content)
    return list(value)


def check_card(embeds: Sequence[Embed], content: str | None) -> None:
    """Raise ``ValueError`` unless a card row is valid: 1+ embeds that fit a message, components (the JSON in
    ``content``) within the limits."""
    if not embeds:
        raise ValueError("a card needs at least one embed")
    check_message(embeds)
    try:
        components = decode_components(content)
    except (TypeError, ValueError) as exc:
        raise ValueError("a card's content must be the JSON of its components") from exc
    check_components(components)
