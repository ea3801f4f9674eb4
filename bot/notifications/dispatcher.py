"""The dispatcher: drains the outbox into Discord, in order per target, exactly once.

One pass (:meth:`NotificationDispatcher.run_once`) reads the pending rows, groups them by target (keeping
their order) and, per target, sends one message after the other:

- rows already claimed by an earlier (possibly crashed) pass are re-sent exactly as claimed, same nonce;
- unclaimed rows are packed greedily into messages of at most 10 embeds and 6000 characters, so a backlog of
  1,000 events becomes about 100 messages; a lone event goes out alone, immediately. The messages planned for
  a target in one pass are claimed together, in one transaction committed before the first is sent;
- failures: ``retry`` (network, 5xx, 401, rate limited) → capped, jittered exponential backoff for that target;
  ``blocked`` (missing permissions or access, unknown channel) → the channel waits (re-checked after
  ``blocked_delay`` or at once after ``/setup``), reported once to the audit channel and in the log; for a DM
  or role grant the row is marked undeliverable instead (reported once, never retried); ``refused`` (another
  4xx) → a multi-row message is split into single rows, a single row is marked undeliverable and reported;
- a channel kind with no channel configured waits, reported once;
- a card target (``card:<kind>:<key>``) is one message posted once and edited afterwards: only its newest
  row is delivered (see :mod:`bot.notifications.cards`);
- a delivered message is recorded (its rows marked sent with the message id) in the background, many messages
  per commit (:mod:`bot.notifications.marks`): the next post does not wait for the write. A pass ends, and
  the next one starts, only once every mark handed over is committed (a pass that fails too), and stopping
  writes the last ones.

Other targets are not held up by a failing one: a pass reads only the rows of targets that may be tried now
(a target in backoff, on a blocked channel or on an unconfigured channel kind is left out of the query), so
the rows of a waiting target at the head of the outbox never hide deliverable rows behind them.

:meth:`NotificationDispatcher.run` passes again at once while the last pass delivered something and more may
be deliverable (its page was full, or a refused batch was split): a backlog larger than one page drains at
the rate Discord allows, never waiting for the poll interval with work in hand. When nothing can be sent it
waits for :meth:`~NotificationDispatcher.wake`, the earliest backoff or block to end, or the poll interval:
rows that wait never make it spin. Discord's rate limits are applied by discord.py's HTTP client inside the
sink (it sleeps a 429's ``retry_after`` and tries again); a 429 that still comes back puts the target in
backoff for at least its ``retry_after``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.guild_config import ChannelKind
from bot.i18n import DEFAULT_LOCALE, t
from bot.notifications.cards import decode_components
from bot.notifications.discord_sink import UNKNOWN_MESSAGE, DeliveryError, DiscordSink
from bot.notifications.embeds import MAX_EMBEDS_PER_MESSAGE, MAX_TOTAL_CHARS, Embed, alert_embed, embed_chars
from bot.notifications.marks import SentMarks
from bot.notifications.outbox import (
    CardTarget,
    ChannelKindTarget,
    ChannelTarget,
    DmTarget,
    Outbox,
    OutboxRow,
    RoleTarget,
    Target,
    parse_target,
)
from bot.notifications.targets import AUDIT_TARGET

log = logging.getLogger(__name__)


class ChannelResolver(Protocol):
    """Where a channel kind points now (``GuildConfig`` implements it)."""

    async def channel_id(self, kind: ChannelKind) -> int | None: ...


@dataclass(slots=True)
class PlannedMessage:
    rows: list[OutboxRow]
    nonce: str | None

    @property
    def embeds(self) -> list[Embed]:
        return [embed for row in self.rows for embed in row.embeds]

    @property
    def content(self) -> str | None:
        return self.rows[0].content if len(self.rows) == 1 else None


def plan_messages(rows: list[OutboxRow]) -> list[PlannedMessage]:
    """Claimed rows keep their message; the others are packed (≤ 10 embeds, ≤ 6000 characters, same order)."""
    claimed: dict[str, list[OutboxRow]] = {}
    unclaimed: list[OutboxRow] = []
    for row in rows:
        if row.nonce is not None:
            claimed.setdefault(row.nonce, []).append(row)
        else:
            unclaimed.append(row)
    planned = [PlannedMessage(group, nonce) for nonce, group in claimed.items()]
    current: list[OutboxRow] = []
    embeds = chars = 0
    for row in unclaimed:
        if row.content is not None or not row.embeds:
            if current:
                planned.append(PlannedMessage(current, None))
                current, embeds, chars = [], 0, 0
            planned.append(PlannedMessage([row], None))
            continue
        size = sum(embed_chars(e) for e in row.embeds)
        if current and (embeds + len(row.embeds) > MAX_EMBEDS_PER_MESSAGE or chars + size > MAX_TOTAL_CHARS):
            planned.append(PlannedMessage(current, None))
            current, embeds, chars = [], 0, 0
        current.append(row)
        embeds += len(row.embeds)
        chars += size
    if current:
        planned.append(PlannedMessage(current, None))
    return planned


@dataclass(slots=True)
class PassResult:
    sent_messages: int = 0
    sent_rows: int = 0
    undeliverable_rows: int = 0
    progressed: bool = False
    remaining: int = 0
    more: bool = False
    """Pass again at once: the page was full and the pass delivered something or found a target that now
    waits (the next page skips its rows), or a refused batch was split."""


@dataclass(slots=True)
class _Retry:
    failures: int
    until: float


@dataclass(slots=True)
class _State:
    retry: dict[str, _Retry] = field(default_factory=dict)
    blocked_channels: dict[int, float] = field(default_factory=dict)
    blocked_targets: dict[str, int] = field(default_factory=dict)
    """target → the channel it was blocked on (its rows are left out while that channel is blocked)."""
    unconfigured: dict[str, float] = field(default_factory=dict)
    """channel-kind target → when to look at its configuration again (or at once after ``forget_problems``)."""
    dm_channels: dict[int, int] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)


class NotificationDispatcher:
    """Drains the :class:`Outbox` through a :class:`DiscordSink`; see the module docstring."""

    def __init__(
        self,
        outbox: Outbox,
        sink: DiscordSink,
        channels: ChannelResolver,
        *,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        blocked_delay: float = 900.0,
        poll_interval: float = 60.0,
        page_size: int = 2000,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._outbox = outbox
        self._sink = sink
        self._channels = channels
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._blocked_delay = blocked_delay
        self._poll_interval = poll_interval
        self._page_size = page_size
        self._clock = clock
        self._jitter = jitter
        self._state = _State()
        self._wake = asyncio.Event()
        self._stopping = False
        self._pass_lock = asyncio.Lock()
        self._excluded: frozenset[str] = frozenset()
        self._pass_started = -math.inf
        self._marks = SentMarks(outbox)

    # ----------------------------------------------------------------- control
    def wake(self) -> None:
        """Look at the outbox now (call after enqueueing)."""
        self._wake.set()

    def recheck_blocked(self) -> None:
        """Retry blocked channels now (Discord reported a permission-relevant change); alerts stay reported."""
        if self._state.blocked_channels:
            self._state.blocked_channels.clear()
            self.wake()

    def forget_problems(self) -> None:
        """Re-check blocked and unconfigured channels now (after the configuration changed)."""
        self._state.blocked_channels.clear()
        self._state.unconfigured.clear()
        self._state.reported = {key for key in self._state.reported if not key.startswith(("blocked:", "unconf"))}
        self._state.retry.clear()
        self.wake()

    async def close(self) -> None:
        """Stop after the message being sent; record every delivered message (the loop records any sent after)."""
        self._stopping = True
        self.wake()
        await self._marks.flush()

    async def run(self) -> None:
        """Deliver until :meth:`close`; a failing pass is logged and retried after a delay."""
        log.info("notification dispatcher started")
        try:
            await self._serve()
        finally:  # stopped or cancelled (shutdown): the marks of what was delivered are written all the same
            try:
                await self._marks.flush()
            except Exception:
                log.exception("recording delivered notifications failed at stop marks=%d", self._marks.unrecorded)
        log.info("notification dispatcher stopped")

    async def _serve(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                result = await self.run_once()
                failures = 0
                if result.more:
                    await asyncio.sleep(0)  # let the webhook route run between two pages
                    continue
                timeout = self._next_retry_in()
                timeout = self._poll_interval if timeout is None else min(timeout, self._poll_interval)
            except Exception:
                failures += 1
                log.exception("notification pass failed failures=%d", failures)
                timeout = self._delay(failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(timeout, 0.0))

    async def drain(self, *, max_passes: int = 10_000) -> PassResult:
        """Pass until nothing deliverable is left (rows waiting on a blocked or unconfigured channel stay)."""
        result = PassResult()
        for _ in range(max_passes):
            result = await self.run_once()
            if result.remaining == 0:
                return result
            if result.progressed or result.more:
                continue
            wait = self._next_retry_in(backoff_only=True)
            if wait is None:
                return result
            await asyncio.sleep(wait)
        return result

    # ----------------------------------------------------------------- one pass
    async def run_once(self) -> PassResult:
        """One pass over the pending rows (see the module docstring)."""
        async with self._pass_lock:
            try:
                return await self._pass()
            except BaseException:
                # what this pass delivered before it failed is recorded all the same (the marks linger for
                # more: bot.notifications.marks); the pass's own failure is the one raised
                with contextlib.suppress(Exception):
                    await self._marks.flush()
                raise

    async def _pass(self) -> PassResult:
        result = PassResult()
        await self._marks.flush()  # a message whose mark is still being written is not pending any more
        rows = await self._outbox.pending(limit=self._page_size, exclude=self._waiting_targets())
        groups: dict[str, list[OutboxRow]] = {}
        for row in rows:
            groups.setdefault(row.target, []).append(row)
        for target, target_rows in groups.items():
            if self._stopping:
                break
            await self._deliver_target(target, target_rows, result)
        if len(rows) >= self._page_size and not self._stopping:
            now = self._clock()
            newly_waiting = any(
                until > now and target not in self._excluded for target, until in self._wait_untils().items()
            )
            result.more = result.more or result.progressed or newly_waiting
        await self._marks.flush()
        result.remaining = await self._outbox.pending_count()
        return result

    def _wait_untils(self, *, backoff_only: bool = False) -> dict[str, float]:
        """Every target that waits on a time (backoff, blocked channel, unconfigured kind) → until when."""
        state = self._state
        untils = {target: retry.until for target, retry in state.retry.items()}
        if backoff_only:
            return untils
        for target, channel_id in state.blocked_targets.items():
            blocked_until = state.blocked_channels.get(channel_id)
            if blocked_until is not None:
                untils[target] = max(untils.get(target, blocked_until), blocked_until)
        for target, until in state.unconfigured.items():
            untils[target] = max(untils.get(target, until), until)
        return untils

    def _waiting_targets(self) -> list[str]:
        """Targets not to be tried in the pass starting now; the pass's start and these targets are remembered
        (:meth:`_next_retry_in` and the pass's ``more`` look at them)."""
        now = self._pass_started = self._clock()
        self._excluded = frozenset(target for target, until in self._wait_untils().items() if until > now)
        return sorted(self._excluded)

    def _next_retry_in(self, *, backoff_only: bool = False) -> float | None:
        """Seconds until a target left out of the last pass may be tried (``None``: none waits on a time);
        ``backoff_only``: only targets in backoff count (not blocked or unconfigured channels).

        A wait that ended after the last pass started is due at once (0); one that had ended before it was
        tried in that pass and is not counted (else a target without rows would keep the loop spinning)."""
        now = self._clock()
        due = [
            max(0.0, until - now)
            for until in self._wait_untils(backoff_only=backoff_only).values()
            if until > self._pass_started
        ]
        return min(due) if due else None

    def _delay(self, failures: int) -> float:
        delay: float = min(self._max_delay, self._base_delay * (2 ** min(failures - 1, 30)))
        return delay * (0.5 + self._jitter() / 2)

    def _retry_later(self, target: str, exc: DeliveryError) -> None:
        previous = self._state.retry.get(target)
        failures = (previous.failures if previous else 0) + 1
        delay = max(self._delay(failures), exc.retry_after or 0.0)
        self._state.retry[target] = _Retry(failures, self._clock() + delay)
        log.warning(
            "notification delivery failed, will retry target=%s status=%s code=%s failures=%d delay=%.2f",
            target,
            exc.status,
            exc.code,
            failures,
            delay,
        )

    async def _deliver_target(self, target: str, rows: list[OutboxRow], result: PassResult) -> None:
        retry = self._state.retry.get(target)
        if retry is not None and retry.until > self._clock():
            return
        parsed = parse_target(target)
        if isinstance(parsed, RoleTarget):
            await self._grant_roles(target, parsed, rows, result)
            return
        if isinstance(parsed, CardTarget):
            await self._deliver_card(target, parsed, rows, result)
            return
        channel_id = await self._destination(target, parsed, result)
        if channel_id is None:
            return
        plan = plan_messages(rows)
        unclaimed = [[row.id for row in message.rows] for message in plan if message.nonce is None]
        # the page's new messages are claimed in one transaction, committed before the first is sent
        claimed = iter(await self._outbox.claim_many(unclaimed) if unclaimed else [])
        for message in plan:
            if self._stopping:
                return
            nonce = message.nonce or next(claimed)
            try:
                message_id = await self._sink.send_message(
                    channel_id, content=message.content, embeds=message.embeds, nonce=nonce
                )
            except DeliveryError as exc:
                await self._outbox.note_failure(nonce, exc.describe)
                if not await self._message_failed(target, parsed, channel_id, message, nonce, exc, result):
                    return
                continue
            self._marks.add(nonce, message_id)  # recorded in the background (bot.notifications.marks)
            self._state.retry.pop(target, None)
            self._state.blocked_targets.pop(target, None)
            self._state.reported.discard(f"blocked:{channel_id}")
            result.sent_messages += 1
            result.sent_rows += len(message.rows)
            result.progressed = True
            log.info(
                "notification sent target=%s channel=%d message=%d rows=%d nonce=%s",
                target,
                channel_id,
                message_id,
                len(message.rows),
                nonce,
            )

    async def _deliver_card(self, target: str, parsed: CardTarget, rows: list[OutboxRow], result: PassResult) -> None:
        """Post the card once, or edit it, to show its newest row; older pending rows are superseded."""
        channel_id = await self._destination(target, ChannelKindTarget(parsed.channel_kind), result)
        if channel_id is None:
            return
        newest = rows[-1]
        try:
            message_id = await self._outbox.card_message_id(target)
            if message_id is not None:
                try:
                    await self._sink.edit_card(
                        channel_id, message_id, embeds=newest.embeds, components=decode_components(newest.content)
                    )
                except DeliveryError as exc:
                    if exc.code != UNKNOWN_MESSAGE:
                        raise
                    log.warning("card message gone, posting it again target=%s message=%d", target, message_id)
                    message_id = None
            if message_id is None:
                message_id = await self._post_card(target, channel_id, rows)
        except DeliveryError as exc:
            await self._card_failed(target, channel_id, newest, exc, result)
            return
        await self._outbox.finish_card(target, newest.id, message_id)
        self._state.retry.pop(target, None)
        self._state.reported.discard(f"blocked:{channel_id}")
        result.sent_messages += 1
        result.sent_rows += len(rows)
        result.progressed = True
        log.info("card delivered target=%s channel=%d message=%d rows=%d", target, channel_id, message_id, len(rows))

    async def _post_card(self, target: str, channel_id: int, rows: list[OutboxRow]) -> int:
        """POST the card; a row claimed by an interrupted attempt goes first (same nonce: same message), and
        the message is then edited to the newest row."""
        newest = rows[-1]
        first = next((row for row in rows if row.nonce is not None), newest)
        nonce = first.nonce or await self._outbox.claim([first.id])
        message_id = await self._sink.post_card(
            channel_id, embeds=first.embeds, components=decode_components(first.content), nonce=nonce
        )
        if first is not newest:
            await self._outbox.finish_card(target, first.id, message_id)
            await self._sink.edit_card(
                channel_id, message_id, embeds=newest.embeds, components=decode_components(newest.content)
            )
        return message_id

    async def _card_failed(
        self, target: str, channel_id: int, newest: OutboxRow, exc: DeliveryError, result: PassResult
    ) -> None:
        if exc.disposition == "retry":
            self._retry_later(target, exc)
            return
        if exc.disposition == "blocked":
            self._state.blocked_channels[channel_id] = self._clock() + self._blocked_delay
            await self._report(
                f"blocked:{channel_id}",
                target,
                "alert.blocked_cards",
                channel=f"<#{channel_id}>",
                reason=exc.describe_in,
            )
            return
        result.undeliverable_rows += await self._outbox.drop_card(target, newest.id, exc.describe)
        result.progressed = True
        await self._report(
            f"undeliverable:{target}:{newest.id}",
            target,
            "alert.card_undeliverable",
            target=target,
            reason=exc.describe_in,
        )

    async def _destination(self, target: str, parsed: Target, result: PassResult) -> int | None:
        """The channel to post to now, or ``None`` when the target has to wait (or failed for good)."""
        channel_id: int | None
        if isinstance(parsed, ChannelKindTarget):
            channel_id = await self._channels.channel_id(parsed.channel_kind)
            key = f"unconfigured:{parsed.channel_kind.value}"
            if channel_id is None:
                self._state.unconfigured[target] = self._clock() + self._poll_interval
                await self._report(
                    key,
                    target,
                    "alert.no_channel",
                    kind=parsed.channel_kind.value,
                )
                return None
            self._state.reported.discard(key)
            self._state.unconfigured.pop(target, None)
        elif isinstance(parsed, ChannelTarget):
            channel_id = parsed.channel_id
        elif isinstance(parsed, DmTarget):
            channel_id = self._state.dm_channels.get(parsed.user_id)
            if channel_id is None:
                try:
                    channel_id = await self._sink.open_dm(parsed.user_id)
                except DeliveryError as exc:
                    if exc.disposition == "retry":
                        self._retry_later(target, exc)
                        return None
                    await self._undeliverable_all(target, exc, result)
                    return None
                self._state.dm_channels[parsed.user_id] = channel_id
        else:  # role targets never get here
            return None
        blocked_until = self._state.blocked_channels.get(channel_id)
        if blocked_until is not None and blocked_until > self._clock():
            self._state.blocked_targets[target] = channel_id
            return None
        return channel_id

    async def _message_failed(
        self,
        target: str,
        parsed: Target,
        channel_id: int,
        message: PlannedMessage,
        nonce: str,
        exc: DeliveryError,
        result: PassResult,
    ) -> bool:
        """Handle a failed send; ``True`` to go on with the target's next message."""
        if exc.disposition == "retry":
            self._retry_later(target, exc)
            return False
        if exc.disposition == "blocked" and not isinstance(parsed, DmTarget):
            self._state.blocked_channels[channel_id] = self._clock() + self._blocked_delay
            self._state.blocked_targets[target] = channel_id
            await self._report(
                f"blocked:{channel_id}",
                target,
                "alert.blocked",
                channel=f"<#{channel_id}>",
                target=target,
                reason=exc.describe_in,
            )
            return False
        if exc.disposition == "refused" and len(message.rows) > 1:
            log.warning("notification batch refused, splitting nonce=%s rows=%d", nonce, len(message.rows))
            await self._outbox.split(nonce)
            result.progressed = True
            result.more = True
            return False
        result.undeliverable_rows += await self._outbox.mark_undeliverable(nonce, exc.describe)
        result.progressed = True
        if isinstance(parsed, DmTarget):
            self._state.dm_channels.pop(parsed.user_id, None)
        await self._report(
            f"undeliverable:{nonce}",
            target,
            "alert.undeliverable",
            target=target,
            reason=exc.describe_in,
        )
        return True

    async def _undeliverable_all(self, target: str, exc: DeliveryError, result: PassResult) -> None:
        """Every pending row of a DM target whose channel cannot be opened: undeliverable, reported once."""
        for message in plan_messages(await self._rows_of(target)):
            nonce = message.nonce or await self._outbox.claim([row.id for row in message.rows])
            result.undeliverable_rows += await self._outbox.mark_undeliverable(nonce, exc.describe)
        result.progressed = True
        await self._report(
            f"undeliverable:{target}:{secrets.token_hex(3)}",
            target,
            "alert.dm_undeliverable",
            target=target,
            reason=exc.describe_in,
        )

    async def _rows_of(self, target: str) -> list[OutboxRow]:
        return await self._outbox.pending(limit=self._page_size, target=target)

    async def _grant_roles(self, target: str, parsed: RoleTarget, rows: list[OutboxRow], result: PassResult) -> None:
        for row in rows:
            nonce = row.nonce or await self._outbox.claim([row.id])
            try:
                await self._sink.add_role(
                    parsed.guild_id, parsed.user_id, parsed.role_id, reason=f"notification {row.dedupe_key}"[:120]
                )
            except DeliveryError as exc:
                await self._outbox.note_failure(nonce, exc.describe)
                if exc.disposition == "retry":
                    self._retry_later(target, exc)
                    return
                result.undeliverable_rows += await self._outbox.mark_undeliverable(nonce, exc.describe)
                result.progressed = True
                await self._report(
                    f"undeliverable:{nonce}",
                    target,
                    "alert.role_failed",
                    role=f"<@&{parsed.role_id}>",
                    member=f"<@{parsed.user_id}>",
                    reason=exc.describe_in,
                )
                continue
            await self._outbox.mark_sent(nonce, None)
            self._state.retry.pop(target, None)
            result.sent_rows += 1
            result.progressed = True
            log.info("role granted target=%s row=%d", target, row.id)

    async def _report(self, key: str, target: str, msg_id: str, /, **values: object) -> None:
        """Log a delivery problem and post it to the audit channel (in its language), once per problem;
        ``msg_id`` names the catalog pair ``<msg_id>.title`` / ``<msg_id>.text``; a value may be
        ``callable(locale)`` (shown in the channel's language)."""
        if key in self._state.reported:
            return
        self._state.reported.add(key)
        title = t(DEFAULT_LOCALE, f"{msg_id}.title")
        log.warning("notification problem key=%s target=%s title=%s", key, target, title)
        locale = self._outbox.channel_locale()
        values = {name: value(locale) if callable(value) else value for name, value in values.items()}
        title, description = t(locale, f"{msg_id}.title"), t(locale, f"{msg_id}.text", **values)
        if target == AUDIT_TARGET:
            return  # the audit channel itself is the problem: the log is all we have
        try:
            await self._outbox.enqueue_now(
                target=AUDIT_TARGET,
                embeds=[alert_embed(title, description)],
                dedupe_key=f"alert:{key}:{secrets.token_hex(6)}",
            )
        except Exception:
            log.exception("could not queue audit alert key=%s", key)
            return
        self.wake()
