"""Staff slash commands end to end: a real ResellerBot (all cogs) against the fake Discord and the simulator."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.market.simulator.runner import RunningSimulator
from bot.staff.models import AuditEntry, AuditEvent
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.i18n.leaks import english_in
from tests.plugins.bot import StartBot
from tests.staff.conftest import Env

NOT_STAFF = "Only staff can use this"


def _title(rec: InteractionRecord) -> str:
    message = rec.final_message()
    assert message is not None
    return str(message["embeds"][0]["title"]) if message["embeds"] else str(message["content"])


# ---------------------------------------------------------------- /gift
async def test_gift_confirm_success(env: Env) -> None:
    rec = await env.confirmation("gift", {"product": "cs2", "plan": 30, "username": "darth"})
    assert rec.ephemeral
    text = rec.all_text()
    assert "Recipient: `darth`" in text
    assert "Price: 17.10 NLE (1,368.00 RUB)" in text
    assert "Balance after: 982.90 NLE" in text
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "succeeded" in _title(r))
    assert env.sim.state.user("darth").subscription_days  # type: ignore[union-attr]
    assert len(env.sim.state.effects("gift-product")) == 1
    message = rec.final_message()
    assert message is not None
    assert message["components"] == []
    assert "Request id" in rec.all_text()
    events = [r.entry.event for r in await env.staff.audit.query(_all())]
    assert events == [AuditEvent.SUCCEEDED, AuditEvent.REQUESTED]
    env.fake.assert_no_violations()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"product": "cs2", "plan": 30, "username": "ghost"}, "`ghost` does not exist on Neverlose"),
        ({"product": "cs2", "plan": 30, "username": "newbie"}, "`newbie` is not invited to CS2; ask Neverlose staff"),
        ({"product": "cs2", "plan": 30, "username": "darth"}, "Balance 12.40 NLE, price 17.10 NLE"),
        ({"product": "csgo", "plan": 90, "username": "bad name!"}, "not a valid Neverlose username"),
    ],
)
async def test_gift_precheck_failures(env: Env, options: dict[str, Any], expected: str) -> None:
    env.sim.state.balance = Decimal("12.40")
    rec = await env.run("gift", options)
    text = await env.answered(rec, expected)
    assert "Confirm" not in text
    assert env.sim.state.effects() == []
    refused = await env.staff.audit.query(_all())
    assert [r.entry.event for r in refused] == [AuditEvent.REFUSED]


async def test_cancel_timeout_other_user_and_double_confirm(env: Env) -> None:
    rec = await env.confirmation("give", {"code": "E3yugw", "username": "a49"})
    cancel = await env.fake.click_button(rec, "cancel", user="staff")
    await cancel.wait_response()
    await rec.wait_until(lambda r: "cancelled" in _title(r))

    env.gifting.confirm_timeout = 0.2
    rec = await env.confirmation("give", {"code": "E3yugw", "username": "a49"})
    await rec.wait_until(lambda r: "expired" in _title(r), timeout=5)
    assert env.sim.state.effects() == []

    env.gifting.confirm_timeout = 60
    rec = await env.confirmation("give", {"code": "E3yugw", "username": "a49"})
    intruder = await env.fake.click_button(rec, "confirm", user="owner")
    await intruder.wait_response()
    assert intruder.ephemeral
    assert "can use these buttons" in intruder.all_text()
    assert env.sim.state.effects() == []

    first, second = await asyncio.gather(
        env.fake.click_button(rec, "confirm", user="staff"), env.fake.click_button(rec, "confirm", user="staff")
    )
    await first.wait_response()
    await second.wait_response()
    await rec.wait_until(lambda r: "succeeded" in _title(r))
    await first.wait_edits(1)  # both presses finished: each edited the message with the shared outcome
    await second.wait_edits(1)
    assert len(env.sim.state.effects("give-for-free")) == 1


async def test_button_refused_when_no_longer_staff(env: Env) -> None:
    rec = await env.confirmation("gift", {"product": "csgo", "plan": 30, "username": "a49"})
    env.fake.guild.members["staff"].roles.clear()  # the role was taken away meanwhile
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    assert NOT_STAFF in click.all_text()
    assert env.sim.state.effects() == []


# ---------------------------------------------------------------- permissions on every command
@pytest.mark.parametrize(
    ("name", "options", "subcommand"),
    [
        ("gift", {"product": "cs2", "plan": 30, "username": "darth"}, None),
        ("give", {"code": "E3yugw", "username": "a49"}, None),
        ("transfer", {"username": "a49", "amount": "5"}, None),
        ("balance", {}, None),
        ("prices", {"product": "cs2"}, None),
        ("user", {"username": "darth"}, "check"),
        ("audit", {}, None),
        ("operations", {}, "pending"),
        ("setup", {"daily_limit": "1000"}, "limits"),
    ],
)
async def test_non_staff_refused(env: Env, name: str, options: dict[str, Any], subcommand: str | None) -> None:
    rec = await env.run(name, options, user="member", subcommand=subcommand)
    text = await env.answered(rec)
    assert rec.ephemeral
    assert "Only staff" in text or "Only members with Manage Server" in text
    assert env.sim.state.effects() == []
    if name in {"gift", "give", "transfer"}:
        refused = await env.staff.audit.query(_all())
        assert [r.entry.event for r in refused] == [AuditEvent.REFUSED]


async def test_setup_commands(env: Env) -> None:
    staff_role = env.fake.staff_role
    rec = await env.run("setup", {"daily_limit": "20", "approval_threshold": "50"}, user="owner", subcommand="limits")
    assert "20.00 NLE" in await env.answered(rec)
    assert await env.bot.guild_config.daily_limit() == Decimal("20.00")
    refused = await env.run("setup", {"daily_limit": "9999"}, user="staff", subcommand="limits")
    assert "Manage Server" in await env.answered(refused)
    rec = await env.run("setup", {"role": staff_role, "remove": True}, user="owner", subcommand="staff-role")
    await env.answered(rec, "removed")
    assert staff_role.id in await env.bot.guild_config.staff_role_ids()  # still set through STAFF_ROLE_IDS


async def test_everyone_cannot_become_a_staff_role(env: Env) -> None:
    """@everyone as a staff role would let every member spend up to the daily limit: refused, nothing stored,
    and a member stays refused by /transfer."""
    everyone = env.fake.guild.everyone
    before = await env.bot.guild_config.staff_role_ids()
    rec = await env.run("setup", {"role": everyone}, user="owner", subcommand="staff-role")
    assert "cannot be a staff role" in await env.answered(rec)
    assert rec.ephemeral
    assert await env.bot.guild_config.staff_role_ids() == before
    assert everyone.id not in before
    member = await env.run("transfer", {"username": "a49", "amount": "5"}, user="member")
    await env.answered(member, "Only staff")


# ---------------------------------------------------------------- daily limit
async def test_daily_limit(env: Env) -> None:
    await env.bot.guild_config.set_daily_limit(Decimal("20"), updated_by=None)
    rec = await env.confirmation("gift", {"product": "csgo", "plan": 30, "username": "a49"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "succeeded" in _title(r))
    again = await env.run("gift", {"product": "csgo", "plan": 30, "username": "darth"})
    assert "Daily limit reached: you have used 17.10 of 20.00 NLE" in await env.answered(again, "Daily limit")
    assert len(env.sim.state.effects()) == 1


# ---------------------------------------------------------------- /transfer + approval
async def test_transfer_small_and_amount_validation(env: Env) -> None:
    bad = await env.run("transfer", {"username": "a49", "amount": "1.234"})
    assert "not a valid amount" in await env.answered(bad, "amount")
    rec = await env.confirmation("transfer", {"username": "a49", "amount": "12,5"})
    assert "12.50 NLE" in rec.all_text()
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "succeeded" in _title(r))
    assert env.sim.state.user("a49").balance == Decimal("37.50")  # type: ignore[union-attr]


async def test_two_person_approval(env: Env) -> None:
    rec = await env.confirmation("transfer", {"username": "a49", "amount": "150"})
    shown = rec.final_message()
    assert shown is not None
    assert "second staff member must approve" in shown["embeds"][0]["footer"]["text"]
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "awaiting approval" in _title(r))
    posted = await env.fake.wait_for_message("audit", lambda m: bool(m.get("components")))
    assert env.sim.state.effects() == []
    # the audit trail reaches the audit channel through the outbox
    await env.fake.wait_for_message("audit", lambda m: "transfer: approval requested" in str(m.get("embeds")))

    self_approve = await env.fake.click_button(posted, "staff:approve:1", user="staff")
    assert "cannot approve your own transfer" in await env.answered(self_approve, "cannot approve")
    stranger = await env.fake.click_button(posted, "staff:approve:1", user="member")
    await stranger.wait_response()
    assert NOT_STAFF in stranger.all_text()
    assert env.sim.state.effects() == []

    approve = await env.fake.click_button(posted, "staff:approve:1", user="owner")
    assert "Done" in await env.answered(approve, "Done")
    assert len(env.sim.state.effects("transfer-money")) == 1
    assert env.sim.state.user("a49").balance == Decimal("175.00")  # type: ignore[union-attr]
    message = env.fake.state_message(int(posted["id"]))
    assert message is not None
    assert message["components"] == []
    assert "approved" in message["embeds"][0]["title"]


async def test_a_transfer_approval_can_be_denied_or_withdrawn(env: Env) -> None:
    rec = await env.confirmation("transfer", {"username": "a49", "amount": "150"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    posted = await env.fake.wait_for_message("audit", lambda m: bool(m.get("components")))
    buttons = [c["custom_id"] for row in posted["components"] for c in row["components"]]
    assert buttons == ["staff:approve:1", "staff:deny:1"]

    stranger = await env.fake.click_button(posted, "staff:deny:1", user="member")
    await stranger.wait_response()
    assert NOT_STAFF in stranger.all_text()
    deny = await env.fake.click_button(posted, "staff:deny:1", user="owner")
    assert "nothing was sent" in await env.answered(deny, "denied")
    message = env.fake.state_message(int(posted["id"]))
    assert message is not None
    assert message["components"] == []
    assert "denied" in message["embeds"][0]["title"]
    assert env.sim.state.effects() == []  # approving afterwards is refused: see the services tests

    rec = await env.confirmation("transfer", {"username": "a49", "amount": "120"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    second = await env.fake.wait_for_message("audit", lambda m: "Transfer approval #2" in str(m.get("embeds")))
    withdraw = await env.fake.click_button(second, "staff:deny:2", user="staff")  # the requester withdraws it
    assert "denied" in await env.answered(withdraw, "denied")
    await env.fake.wait_for_message("audit", lambda m: "transfer: approval denied" in str(m.get("embeds")))
    assert env.sim.state.effects() == []


async def test_approval_expiry(env: Env) -> None:
    env.staff.approvals.ttl = timedelta(seconds=0)
    rec = await env.confirmation("transfer", {"username": "a49", "amount": "150"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    posted = await env.fake.wait_for_message("audit", lambda m: bool(m.get("components")))
    late = await env.fake.click_button(posted, "staff:approve:1", user="owner")
    assert "expired" in await env.answered(late, "expired")
    assert env.sim.state.effects() == []

    # Swept while the approval's message is posted but the bot has not had Discord's answer (so not its id):
    # the bot marks the message itself once it records the id.
    released = env.fake.hold_answers("/messages")
    rec = await env.confirmation("transfer", {"username": "a49", "amount": "120"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    second = await env.fake.wait_for_message("audit", lambda m: "Transfer approval #2" in str(m.get("embeds")))
    assert await env.gifting.sweep_expired_approvals() == 1
    assert (await env.staff.approvals.get(2)).message_id is None  # type: ignore[union-attr]
    released.set()
    await click.wait_response()
    await env.fake.wait_for(lambda: (env.fake.state_message(int(second["id"])) or {}).get("components") == [])
    message = env.fake.state_message(int(second["id"]))
    assert message is not None
    assert "expired" in message["embeds"][0]["title"]


# ---------------------------------------------------------------- read-only commands
async def test_balance_prices_user_check(env: Env) -> None:
    assert "Balance: **1,000.00 NLE**" in await env.answered(await env.run("balance"), "Balance")
    prices = await env.answered(await env.run("prices", {"product": "cs2"}), "CS2 prices")
    assert "365 days: 134.10 NLE (134.10 EUR)" in prices
    assert "10,728.00 RUB" in prices
    checks = {
        ("darth", "cs2"): "is invited to CS2",
        ("newbie", "cs2"): "not invited to CS2",
        ("newbie", "csgo"): "CS:GO is public",
        ("ghost", None): "does not exist",
    }
    for (username, product), expected in checks.items():
        options = {"username": username} | ({"product": product} if product else {})
        rec = await env.run("user", options, subcommand="check")
        assert expected in await env.answered(rec, expected)


# ---------------------------------------------------------------- errors through the tree
async def test_error_rendering_through_tree(env: Env) -> None:
    env.sim.state.faults.fail_next("get-balance", times=4)
    text = await env.answered(await env.run("balance"), "unreachable")
    assert "Neverlose is unreachable right now" in text
    env.sim.state.faults.malformed_next("get-prices", times=4)
    assert "answered something unexpected" in await env.answered(await env.run("prices", {"product": "cs2"}), "unexp")
    rec = await env.confirmation("give", {"code": "NoSuch", "username": "a49"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "failed" in _title(r))
    assert "Neverlose refused: invalid item" in rec.all_text()


async def test_unexpected_error_gets_reference(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken() -> Decimal:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(env.bot.market, "get_balance", broken)
    text = await env.answered(await env.run("balance"), "Reference")
    assert "secret internals" not in text
    assert "Something went wrong on our side. Reference `" in text


async def test_error_handler_survives_expired_interaction(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """Discord no longer knows the interaction (a 429 held the answer past the 3 s, say): a warning, no
    traceback and no reference nobody will read, and no second answer Discord would refuse as well."""
    env.fake.interaction_deadline = 0.0  # every first response arrives too late (10062 Unknown interaction)
    rec = await env.fake.invoke_command("balance", {}, user="staff")
    await env.fake.wait_for(lambda: "interaction expired before the bot answered" in caplog.text, timeout=5)
    assert rec.response is None
    assert len(rec.errors) == 1  # the fake refused the late answer; the handler logged and gave up quietly
    assert "where=/balance" in caplog.text
    assert "code=10062" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# ---------------------------------------------------------------- /audit
async def test_audit_pagination_and_csv(env: Env) -> None:
    for i in range(23):
        await env.staff.audit.record(
            AuditEntry(action="gift", event=AuditEvent.REFUSED, staff_id=env.fake.staff.id, username=f"user{i}")
        )
    await env.staff.audit.record(AuditEntry(action="give", event=AuditEvent.REFUSED, staff_id=env.fake.owner.id))
    rec = await env.run("audit", {"staff": env.fake.staff})
    await env.answered(rec, "as CSV")
    assert [a["filename"] for a in rec.followups[-1]["attachments"]] == ["audit.csv"]
    message = rec.original_message()
    assert message is not None
    assert "Page 1/3" in str(message["embeds"])
    page_two = await env.fake.click_button(message, "next", user="staff")
    await page_two.wait_response()
    await env.fake.wait_for(lambda: "Page 2/3" in str(env.fake.state_message(int(message["id"]))))
    stranger = await env.fake.click_button(message, "next", user="owner")
    await stranger.wait_response()
    assert "can use these buttons" in stranger.all_text()
    await env.fake.click_button(message, "next", user="staff")
    await env.fake.wait_for(lambda: "Page 3/3" in str(env.fake.state_message(int(message["id"]))))
    final = env.fake.state_message(int(message["id"]))
    assert final is not None
    assert "user0" in str(final["embeds"])
    assert "24 record" not in str(final["embeds"])  # the owner's record is filtered out
    assert "23 record(s)" in str(final["embeds"])


# ---------------------------------------------------------------- /operations pending
async def test_operations_pending_retry(env: Env) -> None:
    env.sim.state.faults.drop_next("transfer-money", times=4)
    rec = await env.confirmation("transfer", {"username": "a49", "amount": "5"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "unknown" in _title(r))
    assert "will be re-checked" in rec.all_text()
    pending = await env.run("operations", subcommand="pending")
    text = await env.answered(pending, "Pending operations (1)")
    assert "transfer-money" in text
    message = pending.followups[-1] if pending.followups else pending.original_message()
    assert message is not None
    stranger = await env.fake.click_button(message, "retry:1", user="member")
    await stranger.wait_response()
    assert "can use these buttons" in stranger.all_text()
    retry = await env.fake.click_button(message, "retry:1", user="staff")
    assert "nothing was spent twice" in await env.answered(retry, "Done")
    assert env.sim.state.user("a49").balance == Decimal("30.00")  # type: ignore[union-attr]
    empty = await env.run("operations", subcommand="pending")
    assert "No pending operations" in await env.answered(empty, "No pending")


def _all() -> Any:
    from bot.staff.audit import AuditQuery

    return AuditQuery()


async def test_approval_survives_a_restart(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator
) -> None:
    """The Approve button is matched by the approval id stored in SQLite, not by an in-memory view."""
    variables = {"AUDIT_CHANNEL_ID": str(fake_discord.channels["audit"].id), "TRANSFER_APPROVAL_THRESHOLD": "100"}
    first = await start_bot(**variables)
    rec = await fake_discord.invoke_command("transfer", {"username": "a49", "amount": "150"}, user="staff")
    await rec.wait_until(lambda r: "Confirm" in r.all_text())
    click = await fake_discord.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    posted = await fake_discord.wait_for_message("audit", lambda m: bool(m.get("components")))
    await first.close()  # the bot restarts between the request and the approval

    await start_bot(**variables)  # same database file
    approve = await fake_discord.click_button(posted, "staff:approve:1", user="owner")
    await approve.wait_until(lambda r: "Done" in r.all_text())
    assert len(market_sim.state.effects("transfer-money")) == 1
    message = fake_discord.state_message(int(posted["id"]))
    assert message is not None
    assert message["components"] == []
    assert "approved" in message["embeds"][0]["title"]


async def test_gift_in_russian(env: Env) -> None:
    """A staff member whose Discord is Russian: the confirmation (its "What" line too), its buttons, the outcome
    (title and sentence) and the owner-only refusal (in the presser's language) are Russian, money the Russian
    way; no English catalog text is left (the sentences of bot/staff/spending.py come from the catalogs)."""
    env.fake.user_locales[env.fake.guild.members["staff"].id] = "ru"
    env.fake.user_locales[env.fake.guild.members["member"].id] = "ru"
    rec = await env.run("gift", {"product": "cs2", "plan": 30, "username": "darth"})
    text = await env.answered(rec, "Подтвердите: Подарок подписки")
    assert "Получатель: `darth`" in text
    assert "Цена: 17,10\N{NO-BREAK SPACE}NLE (1\N{NO-BREAK SPACE}368,00\N{NO-BREAK SPACE}RUB)" in text
    message = rec.final_message()
    assert message is not None
    assert "Нажимать эти кнопки можете только вы." in message["embeds"][0]["footer"]["text"]
    labels = [c["label"] for row in message["components"] for c in row["components"]]
    assert labels == ["Подтвердить", "Отмена"]
    other = await env.fake.click_button(rec, "confirm", user="member")
    await other.wait_response()
    assert "Эти кнопки может нажимать только" in other.all_text()
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "Подарок подписки: выполнено" in _title(r))
    assert "Id запроса" in rec.all_text()
    assert "Готово: CS2, 30 дн. для `darth`." in rec.all_text()
    assert english_in(rec.all_text()) == []
    assert english_in(other.all_text()) == []
    env.fake.assert_no_violations()


async def test_balance_prices_user_check_in_russian(env: Env) -> None:
    from tests.i18n.leaks import english_in

    env.fake.user_locales[env.fake.guild.members["staff"].id] = "ru"
    nbsp = "\N{NO-BREAK SPACE}"
    balance = await env.answered(await env.run("balance"), "Баланс")
    assert f"Баланс: **1{nbsp}000,00{nbsp}NLE**" in balance
    prices = await env.answered(await env.run("prices", {"product": "cs2"}), "Цены CS2")
    assert f"365 дней: 134,10{nbsp}NLE (134,10{nbsp}EUR)" in prices
    assert f"10{nbsp}728,00{nbsp}RUB" in prices
    answers = [balance.split("\n")[:2], prices]
    for (username, product), expected in {
        ("darth", "cs2"): "есть и приглашён к CS2",
        ("newbie", "cs2"): "не приглашён к CS2",
        ("newbie", "csgo"): "CS:GO общедоступен",
        ("ghost", None): "на Neverlose нет",
    }.items():
        options = {"username": username} | ({"product": product} if product else {})
        rec = await env.run("user", options, subcommand="check")
        answers.append(await env.answered(rec, expected))
    assert [english_in(str(text)) for text in answers] == [[]] * len(answers)


async def test_confirm_pressed_after_a_restart_is_answered_and_spends_nothing(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator
) -> None:
    """The confirmation's view lived in the first process: the press reaches no view. It is answered at once,
    ephemerally and in the presser's language (not left to Discord's "This interaction failed"), and nothing is
    spent; a persistent button (the order cards, approvals) is not answered in its handler's place."""
    first = await start_bot()
    rec = await fake_discord.invoke_command("transfer", {"username": "a49", "amount": "5"}, user="staff")
    await rec.wait_until(lambda r: "Confirm" in r.all_text())
    pager = await fake_discord.invoke_command("audit", {}, user="staff")
    await pager.wait_response()
    await first.close()

    await start_bot()  # same database file, a new process's memory
    fake_discord.user_locales[fake_discord.guild.members["staff"].id] = "ru"
    for custom_id in ("confirm", "cancel"):
        press = await fake_discord.click_button(rec, custom_id, user="staff")
        await press.wait_response()
        assert press.ephemeral
        assert "Это нажатие ничего не сделало; проверьте сообщение" in (press.response or {})["data"]["content"]
    assert market_sim.state.effects() == []
    assert len(market_sim.state.requests_for("transfer-money")) == 0
    fake_discord.assert_no_violations()


async def test_a_live_confirmation_is_not_answered_as_stale(env: Env) -> None:
    """Cancel stops its view (leaving the view store) before it answers: the press is still the view's alone."""
    rec = await env.confirmation("transfer", {"username": "a49", "amount": "5"})
    press = await env.fake.click_button(rec, "cancel", user="staff")
    await press.wait_response()
    await asyncio.sleep(0.2)  # a second answer would be refused by the fake as a violation
    assert "cancelled" in _title(rec)
    assert press.errors == []
    env.fake.assert_no_violations()


async def test_autocomplete_offers_past_recipients_and_items_to_staff_only(env: Env) -> None:
    """Discord runs no command check for an autocomplete, and the staff commands may be shown to everyone:
    the logins and item codes of past operations are offered to staff, and to nobody else."""
    rec = await env.confirmation("gift", {"product": "cs2", "plan": 30, "username": "darth"})
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "succeeded" in _title(r))
    give = await env.confirmation("give", {"code": "E3yugw", "username": "a49"})
    click = await env.fake.click_button(give, "confirm", user="staff")
    await click.wait_response()
    await give.wait_until(lambda r: "succeeded" in _title(r))

    async def offered(command: str, focused: str, user: str, subcommand: str | None = None) -> list[str]:
        asked = await env.fake.autocomplete(command, focused, {focused: ""}, user=user, subcommand=subcommand)
        await asked.wait_response()
        assert asked.response is not None
        return [c["value"] for c in asked.response["data"]["choices"]]

    for command, focused, subcommand in [
        ("gift", "username", None),
        ("give", "username", None),
        ("transfer", "username", None),
        ("audit", "username", None),
        ("user", "username", "check"),
    ]:
        assert sorted(await offered(command, focused, "staff", subcommand)) == ["a49", "darth"], command
        assert await offered(command, focused, "member", subcommand) == [], command
    assert await offered("give", "code", "staff") == ["E3yugw"]
    assert await offered("give", "code", "member") == []
    env.fake.assert_no_violations()
