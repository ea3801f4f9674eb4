"""Recording delivered messages in the background, in batches, instead of one database write per message.

Once Discord has answered a post, the dispatcher hands the message's nonce and id to :class:`SentMarks` and
goes on with the next post at once; one writer task waits a moment (:data:`LINGER`, cut short by a
:meth:`~SentMarks.flush`) for the marks of the next posts, records everything handed over meanwhile in ONE
transaction (:meth:`~bot.notifications.outbox.Outbox.mark_sent_many`), and starts again as long as more
arrived. Under a backlog the marks of many messages share a commit and its fsync, and the posts no longer
wait for them. Without the linger a write started at the first mark and took the one or two that had come
meanwhile: about one commit per message, 25 us of the database thread's CPU per event drained.

What this changes for exactly-once: nothing but the width of the window the outbox already covers. A mark
still pending when the process dies leaves its rows claimed with their nonce, so the next start sends them
again with that nonce and Discord answers with the message it already created (see
:mod:`bot.notifications.outbox`; Discord keeps nonces for a few minutes). The window is one batch: the
writer is never more than one commit (and its linger) behind the posts. :meth:`SentMarks.flush` waits until
everything handed over is recorded; the dispatcher calls it before a pass reads the outbox again (so a pass
never sees, and sends again, a message whose mark is still being written) and when it stops (so a clean
shutdown loses none). A write that fails keeps its marks, in order, for the next attempt (started by the next
mark or flush) and is raised once by the next :meth:`~SentMarks.flush`, so the dispatcher's pass fails and is
retried as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

log = logging.getLogger(__name__)

LINGER = 0.05
"""Seconds a write waits for the marks of the next posts before it starts (unless a flush waits for it)."""


class MarkWriter(Protocol):
    async def mark_sent_many(self, marks: list[tuple[str, int | None]]) -> int: ...


class SentMarks:
    """Marks of delivered messages (nonce, Discord message id), written in the background in batches."""

    def __init__(self, outbox: MarkWriter, *, linger: float = LINGER) -> None:
        self._outbox = outbox
        self._linger = linger
        self._hurry = asyncio.Event()
        """Set while a :meth:`flush` waits: the writer writes at once instead of lingering."""
        self._flushers = 0
        self._waiting: list[tuple[str, int | None]] = []
        self._writing: list[tuple[str, int | None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    @property
    def unrecorded(self) -> int:
        """Marks handed over and not yet committed."""
        return len(self._waiting) + len(self._writing)

    def add(self, nonce: str, message_id: int | None) -> None:
        """Record that the message ``nonce`` was delivered as ``message_id`` (soon; see :meth:`flush`)."""
        self._waiting.append((nonce, message_id))
        if self._writer is None and self._error is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="notification-marks")

    async def flush(self) -> None:
        """Wait until every mark handed over is committed; raise the error of a write that failed (its marks
        are kept and written by this call or the next)."""
        self._flushers += 1
        self._hurry.set()
        try:
            await self._flush()
        finally:
            self._flushers -= 1
            if not self._flushers:
                self._hurry.clear()

    async def _flush(self) -> None:
        while True:
            if self._writer is not None:
                # shielded: a cancelled caller (shutdown) does not cancel a commit under way
                await asyncio.shield(self._writer)
                continue
            if self._error is not None:  # raised once; the kept marks are tried again by the next add or flush
                error, self._error = self._error, None
                raise error
            if not self._waiting:
                return
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="notification-marks")

    async def _write(self) -> None:
        try:
            while self._waiting:
                if self._linger > 0 and not self._hurry.is_set():  # let the marks of the next posts join
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._hurry.wait(), self._linger)
                self._writing, self._waiting = self._waiting, []
                try:
                    await self._outbox.mark_sent_many(self._writing)
                except BaseException as exc:
                    self._waiting[:0] = self._writing  # kept, in order, for the next attempt
                    self._error = exc
                    log.warning("recording delivered notifications failed marks=%d error=%r", len(self._writing), exc)
                    return
                finally:
                    self._writing = []
        finally:
            self._writer = None
