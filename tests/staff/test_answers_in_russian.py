"""The spending commands' sentences in the staff member's language (issue #19): refusals, validation,
limits, outcomes and the retry answer render in Russian with no English catalog text; the audit keeps English."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.staff.audit import AuditQuery
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.i18n.leaks import english_in
from tests.plugins.bot import StartBot
from tests.staff.conftest import Env

NBSP = "\N{NO-BREAK SPACE}"


@pytest.fixture
def russian(env: Env) -> Env:
    for who in ("staff", "owner"):
        env.fake.user_locales[env.fake.guild.members[who].id] = "ru"
    return env


def _title(rec: InteractionRecord) -> str:
    message = rec.final_message()
    assert message is not None
    return str(message["embeds"][0]["title"]) if message["embeds"] else str(message["content"])


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("gift", {"product": "cs2", "plan": 30, "username": "ghost"}, "Пользователя `ghost` нет на Neverlose"),
        ("gift", {"product": "cs2", "plan": 30, "username": "newbie"}, "`newbie` не приглашён в CS2"),
        ("gift", {"product": "cs2", "plan": 30, "username": "darth"}, f"Баланс 12,40{NBSP}NLE, цена 17,10{NBSP}NLE"),
        ("gift", {"product": "csgo", "plan": 90, "username": "bad name!"}, "недопустимое имя пользователя"),
        ("transfer", {"username": "a49", "amount": "1.234"}, "недопустимая сумма"),
        ("transfer", {"username": "a49", "amount": "50"}, f"Баланс 12,40{NBSP}NLE, перевод 50,00{NBSP}NLE"),
    ],
)
async def test_refusals_in_russian(russian: Env, name: str, options: dict[str, Any], expected: str) -> None:
    russian.sim.state.balance = Decimal("12.40")
    rec = await russian.run(name, options)
    text = await russian.answered(rec, expected)
    assert english_in(text) == []
    refused = await russian.staff.audit.query(AuditQuery())
    assert refused[0].entry.result.isascii()  # the audit records the English sentence


async def test_outcomes_limit_and_retry_in_russian(russian: Env) -> None:
    env = russian
    rec = await env.run("gift", {"product": "csgo", "plan": 30, "username": "a49"})
    await env.answered(rec, "Подтвердите")
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    await rec.wait_until(lambda r: "Готово" in r.all_text())
    assert "Готово: CS:GO, 30 дн. для `a49`." in rec.all_text()
    assert english_in(rec.all_text()) == []

    await env.bot.guild_config.set_daily_limit(Decimal("20"), updated_by=None)
    again = await env.run("gift", {"product": "csgo", "plan": 30, "username": "darth"})
    text = await env.answered(again, "Дневной лимит")
    assert "вы потратили 17,10 из 20,00 NLE" in text
    assert english_in(text) == []
    await env.bot.guild_config.set_daily_limit(Decimal("200"), updated_by=None)

    approval = await env.run("transfer", {"username": "a49", "amount": "150"})
    await env.answered(approval, "Подтвердите")
    click = await env.fake.click_button(approval, "confirm", user="staff")
    await click.wait_response()
    await approval.wait_until(lambda r: "Ожидает одобрения №1" in r.all_text())
    assert english_in(approval.all_text()) == []

    env.sim.state.faults.drop_next("transfer-money", times=4)
    unknown = await env.run("transfer", {"username": "a49", "amount": "5"})
    await env.answered(unknown, "Подтвердите")
    click = await env.fake.click_button(unknown, "confirm", user="staff")
    await click.wait_response()
    await unknown.wait_until(lambda r: "будет автоматически перепроверена" in r.all_text())
    assert english_in(unknown.all_text()) == []
    pending = await env.run("operations", subcommand="pending")
    await env.answered(pending, "transfer-money")
    message = pending.followups[-1] if pending.followups else pending.original_message()
    assert message is not None
    retry = await env.fake.click_button(message, "retry:2", user="staff")
    text = await env.answered(retry, "Готово")
    assert "Операция №2: Готово" in text
    assert "ничего не потрачено дважды" in text
    assert english_in(text) == []
    env.fake.assert_no_violations()


@pytest.fixture
async def channel_ru(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> Env:
    """The staff bot with BOT_LOCALE=ru: the audit channel's posts and approvals are Russian."""
    bot = await start_bot(
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        STAFF_DAILY_LIMIT="200",
        TRANSFER_APPROVAL_THRESHOLD="100",
        BOT_LOCALE="ru",
    )
    bot.market.retry = market_retry
    bot.journal.retry = market_retry
    assert bot.staff is not None
    bot.staff.cooldown.seconds = 0
    for who in ("staff", "owner"):
        fake_discord.user_locales[fake_discord.guild.members[who].id] = "ru"
    return Env(fake_discord, bot, market_sim)


def _text(message: dict[str, Any]) -> str:
    return str(message.get("content") or "") + " " + str(message.get("embeds")) + " " + str(message.get("components"))


async def test_audit_channel_approvals_audit_and_operations_in_russian(channel_ru: Env) -> None:
    env = channel_ru
    rec = await env.run("transfer", {"username": "a49", "amount": "150"})
    await env.answered(rec, "Подтвердите")
    click = await env.fake.click_button(rec, "confirm", user="staff")
    await click.wait_response()
    posted = await env.fake.wait_for_message("audit", lambda m: bool(m.get("components")))
    assert "Одобрение перевода №1: ожидает" in _text(posted)
    assert "Одобрить перевод" in _text(posted)
    assert english_in(_text(posted)) == []
    entry = await env.fake.wait_for_message("audit", lambda m: "перевод: запрошено одобрение" in str(m.get("embeds")))
    assert english_in(_text(entry).replace("approval #1", "")) == []  # the recorded detail stays English

    own = await env.fake.click_button(posted, "staff:approve:1", user="staff")
    text = await env.answered(own, "Нельзя одобрить")
    assert english_in(text) == []
    deny = await env.fake.click_button(posted, "staff:deny:1", user="owner")
    text = await env.answered(deny, "отклонено")
    assert "Одобрение перевода №1 отклонено: `a49` ничего не отправлено." in text
    assert english_in(text) == []
    message = env.fake.state_message(int(posted["id"]))
    assert message is not None
    assert "Результат" in _text(message)
    assert english_in(_text(message)) == []

    audit = await env.run("audit")
    await env.answered(audit, "Последние операции")
    await audit.wait_until(lambda r: "Вся выборка" in r.all_text())
    text = audit.all_text()
    assert english_in(text) == []

    env.sim.state.faults.drop_next("transfer-money", times=4)
    unknown = await env.run("transfer", {"username": "a49", "amount": "5"})
    await env.answered(unknown, "Подтвердите")
    click = await env.fake.click_button(unknown, "confirm", user="staff")
    await click.wait_response()
    await unknown.wait_until(lambda r: "перепроверена" in r.all_text())
    pending = await env.run("operations", subcommand="pending")
    text = await env.answered(pending, "Незавершённые операции (1)")
    assert "запросил" in text
    assert english_in(text) == []
    message = pending.followups[-1] if pending.followups else pending.original_message()
    assert message is not None
    assert "Безопасно повторить №1" in str(message.get("components"))
    env.fake.assert_no_violations()
