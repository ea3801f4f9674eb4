"""Scenarios 1, 2 and 4: staff spending commands through the real bot process, the fake Discord and the simulator."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.market.models import Product
from bot.market.simulator.runner import RunningSimulator
from tests.e2e.conftest import StartBot
from tests.e2e.harness import answered, embed_field, embeds_in, final_title, wait_for_embed
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.e2e

GIFT: dict[str, Any] = {"product": "cs2", "plan": 30, "username": "darth"}
CS2_30_DAYS = Decimal("17.10")
START_BALANCE = Decimal("1000.00")


def operations(db: Path) -> list[dict[str, Any]]:
    """The journal as the bot left it on disk (read-only)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT id, request_id, method, status, attempts, confirmed_on_retry FROM operations")
        return [dict(row) for row in rows]


async def test_staff_gifts_cs2_for_30_days(start_bot: StartBot, fake: FakeDiscord, sim: RunningSimulator) -> None:
    bot = await start_bot()
    rec = await fake.invoke_command("gift", GIFT, user="staff")
    text = await answered(rec, "Confirm")
    assert rec.ephemeral
    assert "Recipient: `darth`" in text
    assert "Price: 17.10 NLE" in text
    assert sim.state.effects() == []  # nothing is spent before Confirm

    click = await fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "succeeded" in final_title(r), timeout=10)

    gifts = sim.state.effects("gift-product")
    assert len(gifts) == 1
    assert len(sim.state.requests_for("gift-product")) == 1
    assert gifts[0].body is not None
    request_id = str(gifts[0].body["id"])
    assert gifts[0].body["username"] == "darth"
    assert gifts[0].body["cnt"] == 0  # the 30-day plan
    darth = sim.state.user("darth")
    assert darth is not None
    assert darth.subscription_days == {Product.CS2: 30}
    assert sim.state.balance == START_BALANCE - CS2_30_DAYS
    message = rec.final_message()
    assert message is not None
    assert message["components"] == []  # buttons removed
    assert request_id in rec.all_text()

    audit = await wait_for_embed(fake, "audit", lambda e: e.get("title") == "gift: succeeded")
    assert embed_field(audit, "Request id") == f"`{request_id}`"
    assert embed_field(audit, "For") == "`darth`"
    assert embed_field(audit, "Staff") == f"<@{fake.staff.id}>"
    fake.assert_no_violations()
    await bot.terminate()
    bot.assert_clean_log()


async def test_member_without_staff_role_is_refused(
    start_bot: StartBot, fake: FakeDiscord, sim: RunningSimulator
) -> None:
    bot = await start_bot()
    await bot.wait_for_line(r"market api reachable")  # the start-up get-balance is done
    before = len(sim.state.request_log)
    commands: list[tuple[str, dict[str, Any]]] = [
        ("gift", GIFT),
        ("give", {"code": "E3yugw", "username": "a49"}),
        ("transfer", {"username": "a49", "amount": "5"}),
    ]
    for name, options in commands:
        rec = await fake.invoke_command(name, options, user="member")
        await answered(rec, "Only staff")
        assert rec.ephemeral
        assert not (rec.final_message() or {}).get("components")  # no Confirm button to press
    # each refusal is audited (and reaches the audit channel through the outbox) ...
    await fake.wait_for(lambda: len([e for e in embeds_in(fake, "audit") if "refused" in e.get("title", "")]) == 3)
    refused = [e for e in embeds_in(fake, "audit") if "refused" in e.get("title", "")]
    assert sorted(e["title"] for e in refused) == ["gift: refused", "give: refused", "transfer: refused"]
    assert {embed_field(e, "Staff") for e in refused} == {f"<@{fake.member.id}>"}
    # ... and nothing reached the simulator
    assert len(sim.state.request_log) == before
    assert sim.state.effects() == []
    assert sim.state.balance == START_BALANCE
    fake.assert_no_violations()
    await bot.terminate()
    bot.assert_clean_log()


@pytest.mark.parametrize("effect_before_kill", [True, False], ids=["effect-applied", "effect-not-applied"])
async def test_kill_after_journal_commit_then_restart(
    start_bot: StartBot,
    fake: FakeDiscord,
    sim: RunningSimulator,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    effect_before_kill: bool,
) -> None:
    """SIGKILL while the gift-product request is in flight (journal committed, no answer yet); the restart
    re-drives it with the same request id: exactly one gift, one debit, and the outcome is audited."""
    if effect_before_kill:
        # the simulator applies the gift at once and holds the answer back
        sim.state.faults.delay_next("gift-product", seconds=60, after_effect=True)
    else:
        # the simulator holds the request before applying it, then drops it: the gift never happens
        sim.state.faults.delay_next("gift-product", seconds=60)
        sim.state.faults.drop_next("gift-product", after_effect=False)
    bot = await start_bot()
    rec = await fake.invoke_command("gift", GIFT, user="staff")
    await answered(rec, "Confirm")
    click = await fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await fake.wait_for(lambda: len(sim.state.requests_for("gift-product")) == 1, timeout=10)
    if effect_before_kill:
        await fake.wait_for(lambda: len(sim.state.effects("gift-product")) == 1)

    await bot.kill()
    [op] = operations(tmp_path / "bot.sqlite3")
    assert (op["method"], op["status"], op["attempts"]) == ("gift-product", "pending", 1)
    expected_effects = 1 if effect_before_kill else 0
    assert len(sim.state.effects("gift-product")) == expected_effects

    await bot.start("run")
    await bot.wait_ready(fake, http)
    audit = await wait_for_embed(fake, "audit", lambda e: e.get("title") == "gift: succeeded")
    result = embed_field(audit, "Result") or ""
    assert result.startswith("re-sent after a restart: Done: CS2, 30 days for `darth`.")
    assert ("Confirmed on retry" in result) is effect_before_kill
    assert embed_field(audit, "Request id") == f"`{op['request_id']}`"
    assert embed_field(audit, "Staff") == f"<@{fake.staff.id}>"

    # exactly one gift and one debit; both requests carried the operation's own request id
    assert len(sim.state.effects("gift-product")) == 1
    assert [json.loads(r.raw)["id"] for r in sim.state.requests_for("gift-product")] == [op["request_id"]] * 2
    assert sim.state.balance == START_BALANCE - CS2_30_DAYS
    [done] = operations(tmp_path / "bot.sqlite3")
    assert (done["status"], done["attempts"], done["confirmed_on_retry"]) == ("succeeded", 2, int(effect_before_kill))

    # the staff member sees the outcome in /audit and nothing left in /operations pending
    audit_cmd = await fake.invoke_command("audit", {}, user="staff")
    text = await answered(audit_cmd, "succeeded")
    assert f"id `{op['request_id']}` — re-sent after a restart" in text
    pending = await fake.invoke_command("operations", {}, user="staff", subcommand="pending")
    assert "No pending operations" in await answered(pending, "pending")
    fake.assert_no_violations()
    await bot.terminate()
    bot.assert_clean_log()
