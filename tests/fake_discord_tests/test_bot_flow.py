"""A real discord.py ``commands.Bot`` against the fake: connect, sync, commands, components, messages."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fake_discord import FakeDiscord


def guild_obj(fake: FakeDiscord) -> discord.Object:
    return discord.Object(fake.guild.id)


async def test_ready_populates_the_cache(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    guild = fake_bot.get_guild(fake_discord.guild.id)
    assert guild is not None
    assert {c.name for c in guild.text_channels} == {"purchases", "transfers", "audit", "general"}
    assert {r.name for r in guild.roles} == {"@everyone", "Staff"}
    staff_role = guild.get_role(fake_discord.staff_role.id)
    staff = guild.get_member(fake_discord.staff.id)
    plain = guild.get_member(fake_discord.member.id)
    owner = guild.get_member(fake_discord.owner.id)
    assert staff is not None
    assert plain is not None
    assert owner is not None
    assert staff_role in staff.roles
    assert staff_role not in plain.roles
    assert owner.guild_permissions.manage_guild
    assert not plain.guild_permissions.manage_guild
    assert fake_bot.user is not None
    assert fake_bot.user.id == fake_discord.bot_user.id
    assert fake_bot.application_id == fake_discord.application_id
    paths = [(c.method, c.path) for c in fake_discord.calls]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    identify = next(p for p in fake_discord.gateway.received if p["op"] == 2)
    assert identify["d"]["intents"] == fake_bot.intents.value


async def test_guild_sync_is_recorded(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    @app_commands.command(name="price", description="Show a price")
    @app_commands.describe(product="Which product")
    @app_commands.choices(product=[app_commands.Choice(name="Month", value="month")])
    async def price(interaction: discord.Interaction, product: app_commands.Choice[str], amount: int = 1) -> None:
        await interaction.response.send_message("ok")

    fake_bot.tree.add_command(price, guild=guild_obj(fake_discord))
    synced = await fake_bot.tree.sync(guild=guild_obj(fake_discord))

    assert [c.name for c in synced] == ["price"]
    registered = fake_discord.command("price")
    assert registered is not None
    assert registered["guild_id"] == str(fake_discord.guild.id)
    assert [o["name"] for o in registered["options"]] == ["product", "amount"]
    assert registered["options"][0]["choices"] == [{"name": "Month", "value": "month"}]
    assert synced[0].id == int(registered["id"])
    put = fake_discord.calls_to("PUT", f"/applications/{fake_discord.application_id}/guilds/")
    assert len(put) == 1
    assert put[0].status == 200
    fake_discord.assert_no_violations()


async def test_slash_command_with_options_reaches_callback(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    seen: dict[str, object] = {}

    @app_commands.command(name="grant", description="Grant days")
    async def grant(interaction: discord.Interaction, target: discord.Member, days: int, note: str = "-") -> None:
        seen.update(target=target.id, days=days, note=note, user=interaction.user.id)
        await interaction.response.send_message(f"granted {days} to {target.display_name}", ephemeral=True)

    fake_bot.tree.add_command(grant, guild=guild_obj(fake_discord))
    await fake_bot.tree.sync(guild=guild_obj(fake_discord))

    record = await fake_discord.invoke_command(
        "grant", {"target": fake_discord.member, "days": 30}, user=fake_discord.staff, channel="purchases"
    )
    await record.wait_response()

    assert seen == {"target": fake_discord.member.id, "days": 30, "note": "-", "user": fake_discord.staff.id}
    assert record.response is not None
    assert record.response["type"] == 4
    assert record.ephemeral
    assert not record.deferred
    final = record.final_message()
    assert final is not None
    assert final["content"] == "granted 30 to Plain Member"
    assert fake_discord.messages("purchases") == []  # ephemeral: not in channel history
    fake_discord.assert_no_violations()


async def test_subcommand_and_autocomplete(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    group = app_commands.Group(name="stock", description="Stock")

    async def product_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=p, value=p) for p in ("month", "year") if p.startswith(current)]

    @group.command(name="show", description="Show stock")
    @app_commands.autocomplete(product=product_autocomplete)
    async def show(interaction: discord.Interaction, product: str) -> None:
        await interaction.response.send_message(f"stock of {product}")

    fake_bot.tree.add_command(group, guild=guild_obj(fake_discord))
    await fake_bot.tree.sync(guild=guild_obj(fake_discord))

    auto = await fake_discord.autocomplete("stock", "product", {"product": "ye"}, subcommand="show")
    await auto.wait_response()
    assert auto.response is not None
    assert auto.response["data"]["choices"] == [{"name": "year", "value": "year"}]

    record = await fake_discord.invoke_command("stock", {"product": "year"}, subcommand="show")
    await record.wait_response()
    final = record.final_message()
    assert final is not None
    assert final["content"] == "stock of year"
    assert not record.ephemeral
    assert [m["content"] for m in fake_discord.messages("general")] == ["stock of year"]


async def test_defer_followup_and_edit_original(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    @app_commands.command(name="slow", description="Slow work")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("working...")
        await interaction.edit_original_response(content="done", embed=discord.Embed(title="Result"))
        await interaction.followup.send("extra", ephemeral=True)

    fake_bot.tree.add_command(slow, guild=guild_obj(fake_discord))
    await fake_bot.tree.sync(guild=guild_obj(fake_discord))

    record = await fake_discord.invoke_command("slow", user="owner")
    await record.wait_followups(2)

    assert record.deferred
    assert record.ephemeral
    assert record.response == {"type": 5, "data": {"flags": 64}}
    assert [f["content"] for f in record.followups] == ["done", "extra"]  # first follow-up became the original
    assert len(record.edits) == 1
    assert record.edits[0]["content"] == "done"
    assert record.edits[0]["embeds"][0]["title"] == "Result"
    final = record.final_message()
    assert final is not None
    assert final["content"] == "done"
    assert final["embeds"][0]["title"] == "Result"
    assert not final["loading"]
    fake_discord.assert_no_violations()


async def test_button_click_invokes_view_callback(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    clicked: list[int] = []

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.success)
        async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]) -> None:
            clicked.append(interaction.user.id)
            button.disabled = True
            await interaction.response.edit_message(content="confirmed", view=self)
            self.stop()

    @app_commands.command(name="buy", description="Buy")
    async def buy(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Confirm purchase?", view=Confirm(timeout=30), ephemeral=True)

    fake_bot.tree.add_command(buy, guild=guild_obj(fake_discord))
    await fake_bot.tree.sync(guild=guild_obj(fake_discord))

    record = await fake_discord.invoke_command("buy", user="member")
    await record.wait_response()
    click = await fake_discord.click_button(record, "confirm", user="member")
    await click.wait_response()

    assert clicked == [fake_discord.member.id]
    assert click.response is not None
    assert click.response["type"] == 7
    final = record.final_message()
    assert final is not None
    assert final["content"] == "confirmed"
    assert final["components"][0]["components"][0]["disabled"] is True
    with pytest.raises(ValueError, match="disabled"):
        await fake_discord.click_button(record, "confirm")
    with pytest.raises(LookupError):
        await fake_discord.click_button(record, "nope")
    fake_discord.assert_no_violations()


async def test_channel_send_with_embeds_and_nonce_dedupe(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    channel = fake_bot.get_channel(fake_discord.channels["purchases"].id)
    assert isinstance(channel, discord.TextChannel)
    embed = discord.Embed(title="Order #1", description="paid").add_field(name="Amount", value="10.00")

    first = await channel.send("new order", embeds=[embed], nonce="order-1")
    again = await channel.send("new order", embeds=[embed], nonce="order-1")
    other = await channel.send("second", nonce="order-2")

    assert first.id == again.id != other.id
    stored = fake_discord.messages("purchases")
    assert [m["content"] for m in stored] == ["new order", "second"]
    assert stored[0]["embeds"][0]["title"] == "Order #1"
    assert stored[0]["embeds"][0]["fields"] == [{"name": "Amount", "value": "10.00", "inline": True}]
    assert stored[0]["nonce"] == "order-1"
    assert first.embeds[0].title == "Order #1"
    fake_discord.assert_no_violations()


async def test_limit_violations_answer_400(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    channel_id = fake_discord.channels["audit"].id
    # discord.py refuses 11 embeds itself, so go through the raw route
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    with pytest.raises(discord.HTTPException) as too_many:
        await fake_bot.http.request(route, json={"embeds": [{"title": str(i)} for i in range(11)]})
    assert too_many.value.status == 400
    assert too_many.value.code == 50035

    channel = fake_bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.status == 400
    assert too_long.value.code == 50035

    assert fake_discord.messages("audit") == []
    assert [v.kind for v in fake_discord.violations] == ["message", "message"]
    assert "embeds" in fake_discord.violations[0].error["errors"]
    assert fake_discord.violations[1].error["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    with pytest.raises(AssertionError, match="violations"):
        fake_discord.assert_no_violations()


async def test_invalid_command_registration_is_refused(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    app_id, guild_id = fake_discord.application_id, fake_discord.guild.id
    with pytest.raises(discord.HTTPException) as bad_name:
        await fake_bot.http.bulk_upsert_guild_commands(app_id, guild_id, [{"name": "Bad Name", "description": "x"}])
    assert bad_name.value.status == 400
    errors = fake_discord.violations[-1].error["errors"]
    assert errors["0"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"

    with pytest.raises(discord.HTTPException):
        await fake_bot.http.upsert_guild_command(app_id, guild_id, {"name": "ok", "description": "d" * 101})
    assert fake_discord.commands == []


async def test_member_role_changes_update_state(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    guild = fake_bot.get_guild(fake_discord.guild.id)
    assert guild is not None
    member = guild.get_member(fake_discord.member.id)
    role = guild.get_role(fake_discord.staff_role.id)
    assert member is not None
    assert role is not None

    await member.add_roles(role, reason="promoted")
    assert fake_discord.member_roles("member") == {role.id}
    await fake_discord.wait_for(lambda: role in (guild.get_member(member.id) or member).roles)

    await member.remove_roles(role)
    assert fake_discord.member_roles("member") == set()
    await fake_discord.wait_for(lambda: role not in (guild.get_member(member.id) or member).roles)
    assert [c.method for c in fake_discord.calls_to(path_prefix=f"/guilds/{guild.id}/members/")] == ["PUT", "DELETE"]


async def test_dm_channel_and_message(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    user = await fake_bot.fetch_user(fake_discord.member.id)
    await user.send("your key: ABC")
    assert [m["content"] for m in fake_discord.dm_messages("member")] == ["your key: ABC"]
    channel = fake_discord.dm_channel("member")
    assert channel is not None
    assert channel.recipient is not None
    assert channel.recipient.id == fake_discord.member.id

    fake_discord.close_dms("staff")
    staff = await fake_bot.fetch_user(fake_discord.staff.id)
    with pytest.raises(discord.Forbidden) as refused:
        await staff.send("hello")
    assert refused.value.code == 50007


async def test_injected_429_is_retried_by_discord_py(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    channel = fake_bot.get_channel(fake_discord.channels["transfers"].id)
    assert isinstance(channel, discord.TextChannel)
    fake_discord.inject_rate_limit(f"/channels/{channel.id}/messages", count=2, retry_after=0.01)

    await channel.send("after the rate limit")

    posts = fake_discord.calls_to("POST", f"/channels/{channel.id}/messages")
    assert [c.status for c in posts] == [429, 429, 200]
    assert [m["content"] for m in fake_discord.messages("transfers")] == ["after the rate limit"]


async def test_message_events_reach_the_bot(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    received: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def on_message(message: discord.Message) -> None:
        await received.put(message)

    fake_bot.add_listener(on_message)
    await fake_discord.post_user_message("general", "staff", "hello bot")
    message = await asyncio.wait_for(received.get(), timeout=5)
    assert message.content == "hello bot"
    assert message.author.id == fake_discord.staff.id
    assert isinstance(message.author, discord.Member)


async def test_file_upload_is_parsed_from_multipart(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    channel = fake_bot.get_channel(fake_discord.channels["purchases"].id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("keys attached", file=discord.File(io.BytesIO(b"KEY-1\nKEY-2\n"), "keys.txt"))
    stored = fake_discord.messages("purchases")[0]
    assert stored["content"] == "keys attached"
    assert [(a["filename"], a["size"]) for a in stored["attachments"]] == [("keys.txt", 12)]
    assert sent.attachments[0].filename == "keys.txt"
