"""/setup's answers in the server manager's language (issue #19)."""

from __future__ import annotations

from tests.fake_discord import FakeDiscord
from tests.i18n.leaks import english_in
from tests.plugins.bot import StartBot


async def test_setup_answers_in_russian(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    await start_bot()
    fake_discord.user_locales[fake_discord.guild.members["owner"].id] = "ru"
    answers = []
    for subcommand, options in (
        ("notifications", {"kind": "audit", "channel": fake_discord.channels["audit"]}),
        ("staff-role", {"role": fake_discord.staff_role}),
        ("limits", {"daily_limit": "1500", "approval_threshold": "100"}),
    ):
        record = await fake_discord.invoke_command("setup", options, user="owner", subcommand=subcommand)
        await record.wait_until(lambda r: r.final_message() is not None)
        answers.append(record.all_text())
    assert answers[0].startswith("Уведомления «аудит» теперь идут в")
    assert "добавлена в роли сотрудников" in answers[1]
    assert "**1\N{NO-BREAK SPACE}500,00\N{NO-BREAK SPACE}NLE**" in answers[2]
    assert [english_in(text) for text in answers] == [[], [], []]
    fake_discord.assert_no_violations()
