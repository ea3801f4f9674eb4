"""Scenarios 3 and 5: signed webhook events from the simulator to the real bot process, announced in #purchases."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from decimal import Decimal

import aiohttp
import pytest

from bot.market.simulator.runner import RunningSimulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import embed_field, embeds_in, wait_for_embed
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.e2e

BURST = 200
SENDERS = 10


def announced_ids(fake: FakeDiscord) -> list[int]:
    """The unique_id of every purchase embed in #purchases, in posting order."""
    return [int(embed_field(e, "Unique ID") or 0) for e in embeds_in(fake, "purchases")]


async def test_signed_purchase_is_announced_once(
    start_bot: StartBot, fake: FakeDiscord, sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """``reseller-bot sandbox``: the event is signed with the sandbox secret, as its own simulator would."""
    bot = await start_bot("sandbox", with_sim=False)
    first = await sim.purchase(bot.webhook_url, "darth", "E3yugw")
    assert (first.status, json.loads(first.text)) == (200, {"status": "accepted"})
    embed = await wait_for_embed(fake, "purchases", lambda e: embed_field(e, "Unique ID") == "1")
    assert embed["title"] == "New market purchase"
    assert embed_field(embed, "Buyer") == "`darth`"
    assert embed_field(embed, "Amount") == "0.9 NLE"

    # the very same signed body again (Neverlose retries when it missed our answer)
    async with http.post(
        bot.webhook_url, data=json.dumps(first.body), headers={"Content-Type": "application/json"}
    ) as resp:
        assert (resp.status, await resp.json()) == (200, {"status": "duplicate"})
    # barrier: notifications go out in order, so a second embed for event 1 would come before event 2's
    second = await sim.purchase(bot.webhook_url, "a49", "Lua777")
    assert second.status == 200
    await wait_for_embed(fake, "purchases", lambda e: embed_field(e, "Unique ID") == "2")
    assert announced_ids(fake) == [1, 2]
    fake.assert_no_violations()
    await bot.terminate()
    bot.assert_clean_log()


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
async def test_a_stop_during_a_burst_loses_nothing_and_repeats_nothing(
    start_bot: StartBot, fake: FakeDiscord, sim: RunningSimulator, http: aiohttp.ClientSession, stop: str
) -> None:
    """SIGTERM (a shutdown) or SIGKILL (a power cut, an OOM kill: no shutdown code runs) while events arrive:
    after a restart every acknowledged event is announced, none twice. An acknowledged event's row and its
    announcement were committed together before its 200 (one statement in the usual batch, announced by the
    writer connection's trigger), so the kill cannot come between them."""
    bot = await start_bot()
    url = bot.webhook_url
    acknowledged: list[int] = []
    some_acknowledged = asyncio.Event()
    in_flight = asyncio.Semaphore(SENDERS)  # a stream of events, so that SIGTERM lands in the middle of it

    async def deliver(unique_id: int) -> None:
        try:
            async with in_flight:
                answer = await sim.send_event(
                    url, "purchase", unique_id=unique_id, amount=Decimal("0.90"), username="darth", item_id="E3yugw"
                )
        except (aiohttp.ClientError, OSError):
            return  # no answer: Neverlose would send it again later
        if answer.status == 200:
            acknowledged.append(unique_id)
            if len(acknowledged) >= BURST // 4:
                some_acknowledged.set()

    senders = [asyncio.create_task(deliver(uid)) for uid in range(1, BURST + 1)]
    try:
        await asyncio.wait_for(some_acknowledged.wait(), timeout=10)
        # the signal with requests still arriving
        shutdown = asyncio.create_task(bot.terminate() if stop == "sigterm" else bot.kill())
        await asyncio.gather(*senders)
        took = await shutdown
    finally:
        for task in senders:
            task.cancel()
    if stop == "sigterm":
        assert took < 10
    else:
        assert took == -9  # the exit status of a process killed by SIGKILL
    assert len(acknowledged) >= BURST // 4, "the burst was not under way when SIGTERM arrived"

    await bot.start("run")
    await bot.wait_ready(fake, http)
    missing = await _wait_announced(fake, set(acknowledged))
    assert not missing, f"acknowledged but never announced: {sorted(missing)}"
    counts = Counter(announced_ids(fake))
    assert not [uid for uid, n in counts.items() if n > 1], f"announced twice: {counts.most_common(3)}"
    fake.assert_no_violations()
    await bot.terminate()
    bot.assert_clean_log()


async def _wait_announced(fake: FakeDiscord, expected: set[int], timeout: float = 15.0) -> set[int]:
    """Wait until every id in ``expected`` was announced; the ones still missing after ``timeout``."""
    with contextlib.suppress(TimeoutError):
        await fake.wait_for(lambda: expected <= set(announced_ids(fake)), timeout=timeout)
    return expected - set(announced_ids(fake))
