"""Channel posts in the channel language: with BOT_LOCALE=ru the purchase and transfer announcements a real
webhook (the sandbox's signed events through the bot's own endpoint) produces are Russian, end to end."""

from __future__ import annotations

import json

from tests.fake_discord import FakeDiscord
from tests.i18n.leaks import english_in
from tests.plugins.bot import StartBot


async def test_announcements_follow_bot_locale(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    await start_bot(
        sandbox=True,
        BOT_LOCALE="ru",
        PURCHASE_CHANNEL_ID=str(fake_discord.channels["purchases"].id),
        TRANSFER_CHANNEL_ID=str(fake_discord.channels["transfers"].id),
    )
    rec = await fake_discord.invoke_command(
        "sandbox", {"username": "darth", "item": "E3yugw"}, user="staff", subcommand="purchase"
    )
    await rec.wait_until(lambda r: r.final_message() is not None)
    purchase = await fake_discord.wait_for_message("purchases", lambda m: "E3yugw" in str(m))
    rec = await fake_discord.invoke_command(
        "sandbox", {"username": "a49", "amount": "5,50"}, user="staff", subcommand="transfer"
    )
    transfer = await fake_discord.wait_for_message("transfers", lambda m: "a49" in str(m))
    assert purchase["embeds"][0]["title"] == "Новая покупка на маркете"
    assert transfer["embeds"][0]["title"] == "Получены NLE"
    for message in (purchase, transfer):
        assert english_in(json.dumps(message["embeds"], ensure_ascii=False)) == []
    fake_discord.assert_no_violations()
