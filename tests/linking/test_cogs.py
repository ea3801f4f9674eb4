"""The linking cogs through the project's fake Discord: /link start's button leads through the real flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.ext import commands

from bot.linking.roles import RoleKey
from bot.tree import BotCommandTree
from cogs._linking import LinkingCog
from cogs._roles_setup import RolesSetupCog
from tests.fake_discord import FakeDiscord, run_client
from tests.linking.conftest import Harness
from tests.plugins.fake_discord import bot_intents, discord_py_at_fake, fake_discord

__all__ = ["discord_py_at_fake", "fake_discord"]

LINK_BUTTON_STYLE = 5


class StaffRoles:
    def __init__(self, role_ids: frozenset[int]) -> None:
        self.role_ids = role_ids

    async def staff_role_ids(self) -> frozenset[int]:
        return self.role_ids


@pytest.fixture
async def bot(discord_py_at_fake: FakeDiscord, harness: Harness) -> AsyncIterator[commands.Bot]:
    client = commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=bot_intents(),
        guild_ready_timeout=0.05,
        tree_cls=BotCommandTree,
    )
    client.guild_config = StaffRoles(frozenset({discord_py_at_fake.staff_role.id}))  # type: ignore[attr-defined]
    async with run_client(client, discord_py_at_fake):
        await client.add_cog(LinkingCog(harness.service))
        await client.add_cog(RolesSetupCog(client, harness.service.roles))  # type: ignore[arg-type]
        guild = discord.Object(discord_py_at_fake.guild.id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message["components"] for c in row.get("components", [])]


@pytest.mark.usefixtures("bot")
async def test_link_start_answers_ephemerally_with_a_button_that_links(
    fake_discord: FakeDiscord, harness: Harness
) -> None:
    record = await fake_discord.invoke_command("link", subcommand="start", user="member")
    await record.wait_response()
    assert record.ephemeral
    message = record.final_message()
    assert message is not None
    (button,) = _buttons(message)
    assert button["style"] == LINK_BUTTON_STYLE
    assert button["url"].startswith(harness.base_url + "/oauth/start/")
    assert "expires in 10 minutes" in message["content"]

    # the button's URL is the start of the real flow, bound to the member who asked
    async with harness.browser().get(button["url"]) as page:
        assert page.status == 200
    assert await harness.links() == [(fake_discord.member.id, "1001", "A49")]

    status = await fake_discord.invoke_command("link", subcommand="status", user="member")
    await status.wait_response()
    assert status.ephemeral
    assert "A49" in status.all_text()
    assert "2021-04-05" in status.all_text()  # the Neverlose registration date (cc.neverlose.reg_date)

    # staff can look the member up by login; a plain member cannot
    whois = await fake_discord.invoke_command("whois", {"username": "a49"}, user="staff")
    await whois.wait_response()
    assert whois.ephemeral
    assert str(fake_discord.member.id) in whois.all_text()
    refused = await fake_discord.invoke_command("whois", {"username": "a49"}, user="member")
    await refused.wait_response()
    assert refused.ephemeral
    assert "1001" not in refused.all_text()

    unlink = await fake_discord.invoke_command("unlink", user="member")
    await unlink.wait_response()
    assert "Unlinked" in unlink.all_text()
    assert await harness.links() == []
    fake_discord.assert_no_violations()


@pytest.mark.usefixtures("bot")
async def test_setup_roles_add_list_remove(fake_discord: FakeDiscord, harness: Harness) -> None:
    role = fake_discord.staff_role  # any grantable role of the guild
    add = await fake_discord.invoke_command(
        "setup",
        {"action": "add", "kind": "product", "key": "CS2", "role": role},
        subcommand="roles",
        user="owner",
    )
    await add.wait_response()
    assert "Added" in add.all_text()
    mappings = await harness.service.roles.list(fake_discord.guild.id)
    assert [(m.kind, m.key, m.role_id) for m in mappings] == [(RoleKey.PRODUCT, "cs2", role.id)]

    bad = await fake_discord.invoke_command(
        "setup", {"action": "add", "kind": "item", "key": "bad code!", "role": role}, subcommand="roles", user="owner"
    )
    await bad.wait_response()
    assert "must be" in bad.all_text()

    refused = await fake_discord.invoke_command(
        "setup", {"action": "add", "kind": "item", "key": "E3yugw", "role": role}, subcommand="roles", user="member"
    )
    await refused.wait_response()
    assert refused.ephemeral
    assert len(await harness.service.roles.list(fake_discord.guild.id)) == 1

    listed = await fake_discord.invoke_command("setup", {"action": "list"}, subcommand="roles", user="owner")
    await listed.wait_response()
    assert "cs2" in listed.all_text()

    remove = await fake_discord.invoke_command(
        "setup",
        {"action": "remove", "kind": "product", "key": "cs2", "role": role},
        subcommand="roles",
        user="owner",
    )
    await remove.wait_response()
    assert "Removed" in remove.all_text()
    assert await harness.service.roles.list(fake_discord.guild.id) == []


@pytest.mark.usefixtures("bot")
async def test_link_start_while_discovery_is_unavailable_answers_clearly(
    fake_discord: FakeDiscord, harness: Harness
) -> None:
    harness.idp.discovery_status = 404
    assert not await harness.service.discovery.refresh()
    record = await fake_discord.invoke_command("link", subcommand="start", user="member")
    await record.wait_response()
    assert record.ephemeral
    text = record.all_text()
    assert "Linking is unavailable right now" in text
    assert "try again later" in text
    message = record.final_message()
    assert message is not None
    assert not message.get("components")  # no button to a flow that cannot work
    assert await harness.db.fetchall("SELECT * FROM link_start_tokens") == []

    # the rest of linking still answers
    status = await fake_discord.invoke_command("link", subcommand="status", user="member")
    await status.wait_response()
    assert "not linked" in status.all_text()
    fake_discord.assert_no_violations()


@pytest.mark.usefixtures("bot")
async def test_the_linking_commands_in_russian(fake_discord: FakeDiscord, harness: Harness) -> None:
    """A member whose Discord is Russian: Russian answers, and the start link carries ``?lang=ru`` so the page at
    the end of the flow is Russian too; staff in Russian get /whois in Russian. No English catalog text."""
    from tests.i18n.leaks import english_in

    for who in ("member", "staff"):
        fake_discord.user_locales[fake_discord.guild.members[who].id] = "ru"
    record = await fake_discord.invoke_command("link", subcommand="start", user="member")
    await record.wait_response()
    message = record.final_message()
    assert message is not None
    (button,) = _buttons(message)
    assert button["label"] == "Войти через Neverlose"
    assert button["url"].endswith("?lang=ru")
    assert "истекает через 10 минут." in message["content"]
    async with harness.browser().get(button["url"]) as page:
        assert page.status == 200
        assert "Аккаунт привязан" in await page.text()
    answers = [record.all_text()]
    for name, options, user, sub in (
        ("link", {}, "member", "status"),
        ("whois", {"username": "a49"}, "staff", None),
        ("whois", {"username": "nobody"}, "staff", None),
        ("whois", {}, "staff", None),
        ("unlink", {}, "member", None),
        ("unlink", {}, "member", None),
        ("link", {}, "member", "status"),
    ):
        answer = await fake_discord.invoke_command(name, options, user=user, subcommand=sub)
        await answer.wait_response()
        answers.append(answer.all_text())
    assert "Ваш привязанный аккаунт Neverlose" in answers[1]
    assert "Привязанный аккаунт" in answers[2]
    assert "не привязан ни один аккаунт Discord" in answers[3]
    assert "Укажите ровно одно" in answers[4]
    assert "Привязка к аккаунту Neverlose `A49` удалена" in answers[5]
    assert "Ваш аккаунт Discord не привязан." in answers[6]
    assert "/привязка начать" in answers[7]
    assert [english_in(text) for text in answers] == [[]] * len(answers)
    fake_discord.assert_no_violations()


@pytest.mark.usefixtures("bot")
async def test_setup_roles_in_russian(fake_discord: FakeDiscord, harness: Harness) -> None:
    from tests.i18n.leaks import english_in

    fake_discord.user_locales[fake_discord.guild.members["owner"].id] = "ru"
    role = fake_discord.staff_role
    answers = []
    for options in (
        {"action": "add", "kind": "product", "key": "CS2", "role": role},
        {"action": "add", "kind": "product", "key": "cs2", "role": role},
        {"action": "list"},
        {"action": "remove"},
        {"action": "remove", "kind": "product", "key": "cs2", "role": role},
        {"action": "remove", "kind": "product", "key": "cs2", "role": role},
        {"action": "list"},
    ):
        rec = await fake_discord.invoke_command("setup", options, subcommand="roles", user="owner")
        await rec.wait_response()
        answers.append(rec.all_text())
    assert answers[0].startswith("Добавлено: продукт `cs2` →")
    assert answers[1].startswith("Уже сопоставлено: продукт `cs2`")
    assert answers[2].startswith("продукт `cs2`")
    assert answers[3].startswith("Чтобы удалить сопоставление")
    assert answers[4].startswith("Удалено:")
    assert answers[5].startswith("Такого сопоставления нет:")
    assert answers[6] == "Сопоставлений ролей пока нет."
    assert [english_in(text) for text in answers] == [[]] * 7
    fake_discord.assert_no_violations()
