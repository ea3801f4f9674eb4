"""The periodic re-check of spending operations whose outcome is unknown (Neverlose never answered in time).

Every :data:`RECHECK_INTERVAL` the journal sends each ``unknown`` operation that nothing touched meanwhile
once more, with its own request id, one attempt each (:meth:`SpendingJournal.recheck_unknown`). That is
safe: if the first attempt went through, Neverlose answers ``Invalid id.`` and the operation is recorded as
succeeded, confirmed on retry; nothing is spent twice. What a pass resolves goes to ``on_resolved`` (the
staff service audits it and runs its success hooks, as for a staff retry). A failing pass is logged and the
next one comes anyway; while Neverlose stays down, each pass costs one request per operation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.market.journal import Operation, SpendingJournal

log = logging.getLogger(__name__)

RECHECK_INTERVAL = timedelta(minutes=5)

OnResolved = Callable[[list[Operation]], Awaitable[object]]


async def recheck_forever(
    journal: SpendingJournal, *, interval: timedelta = RECHECK_INTERVAL, on_resolved: OnResolved | None = None
) -> None:
    """Run :func:`recheck_once` every ``interval`` until cancelled (a background task of the bot)."""
    while True:
        await asyncio.sleep(interval.total_seconds())
        await recheck_once(journal, quiet_for=interval, on_resolved=on_resolved)


async def recheck_once(
    journal: SpendingJournal, *, quiet_for: timedelta, on_resolved: OnResolved | None = None
) -> list[Operation]:
    """One pass: the operations it resolved (succeeded or failed), already handed to ``on_resolved``."""
    try:
        rechecked = await journal.recheck_unknown(quiet_for=quiet_for)
    except Exception:
        log.exception("journal re-check failed; the next pass comes in %s", quiet_for)
        return []
    if not rechecked:
        return []
    resolved = [op for op in rechecked if op.resolved]
    log.info(
        "journal re-check operations=%d resolved=%d outcomes=%s",
        len(rechecked),
        len(resolved),
        ", ".join(f"{op.request_id}={op.status}" for op in rechecked),
    )
    if resolved and on_resolved is not None:
        try:
            await on_resolved(resolved)
        except Exception:
            log.exception("journal re-check: reporting the resolved operations failed")
    return resolved
