"""The spending commands' sentences in the staff member's language (issue #19): refusals, validation,
limits, outcomes and the retry answer render in Russian with no English catalog text; the audit keeps English."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.staff.audit import AuditQuery
from tests.fake_discord import InteractionRecord
from tests.i18n.leaks import english_in
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
