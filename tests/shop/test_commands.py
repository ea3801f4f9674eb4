"""``/shop`` end to end: a real ResellerBot (all cogs) against the fake Discord and the Market simulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from bot.core import ResellerBot
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.shop.catalog import PaymentMethod
from bot.shop.importing import MAX_IMPORT_BYTES
from bot.shop.price_table import PriceEntry
from bot.shop.service import ShopService
from bot.staff.audit import AuditQuery
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.plugins.bot import StartBot

NOT_STAFF = "Only staff can use this"
NOT_MANAGER = "Only members with Manage Server"


@dataclass
class ShopEnv:
    fake: FakeDiscord
    bot: ResellerBot
    sim: RunningSimulator

    @property
    def shop(self) -> ShopService:
        assert self.bot.shop is not None
        return self.bot.shop

    async def run(self, sub: str, options: dict[str, Any] | None = None, *, user: str = "staff") -> InteractionRecord:
        rec = await self.fake.invoke_command("shop", options or {}, user=user, subcommand=sub)
        await rec.wait_response()
        return rec

    async def answered(self, rec: InteractionRecord, needle: str = "") -> str:
        def done(r: InteractionRecord) -> bool:
            message = r.final_message()
            loading = message is not None and message["loading"] and not r.followups
            return bool(not loading and (r.followups or r.edits or message) and needle in r.all_text())

        try:
            await rec.wait_until(done, timeout=5)
        except TimeoutError:
            pytest.fail(f"no answer containing {needle!r}; got {rec.all_text()!r}")
        return rec.all_text()

    async def choices(self, sub: str, focused: str, options: dict[str, Any], *, user: str = "staff") -> list[Any]:
        rec = await self.fake.autocomplete("shop", focused, options, user=user, subcommand=sub)
        await rec.wait_response()
        assert rec.response is not None
        return [c["value"] for c in rec.response["data"]["choices"]]


@pytest.fixture
async def env(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> ShopEnv:
    bot = await start_bot(
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        MARKET_INTEGRATION_ID="1",
        PUBLIC_BASE_URL="https://shop.example",
    )
    bot.market.retry = market_retry
    return ShopEnv(fake_discord, bot, market_sim)


async def test_the_shop_is_declined_without_an_integration_id(
    start_bot: StartBot, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    bot = await start_bot()
    assert bot.shop is None
    assert fake_discord.command("shop") is None
    assert "cogs.shop" in bot.extension_report.declined
    lines = [r for r in caplog.records if "extension declined name=cogs.shop" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelname == "INFO"
    assert "MARKET_INTEGRATION_ID is not set" in lines[0].getMessage()
    assert not [t for t in bot._background if t.get_name() == "shop-prices"]


async def test_commands_are_registered_within_discord_limits(env: ShopEnv) -> None:
    command = env.fake.command("shop")
    assert command is not None
    names = {o["name"]: [s["name"] for s in o.get("options", []) if s["type"] in (1, 2)] for o in command["options"]}
    assert names == {
        "price": ["set", "remove"],
        "prices": ["show", "export", "import"],
        "method": ["manual"],
        "visibility": [],
        "status": [],
    }
    env.fake.assert_no_violations()
    top = [c["name"] for c in env.fake.commands]
    assert len(top) == len(set(top))


async def test_price_set_and_remove(env: ShopEnv) -> None:
    rec = await env.run("price set", {"product": "cs2", "plan": 30, "currency": "EUR", "price": "30.50"})
    text = await env.answered(rec, "Price set")
    assert rec.ephemeral
    assert "**CS2, 30 days**, EUR, every method: **30.50** (new price)" in text
    assert "not pushed yet" in text  # no payment method is enabled yet
    await env.shop.methods.set_manual_instructions("card 1234", None)
    rec = await env.run(
        "price set", {"product": "cs2", "plan": 30, "currency": "EUR", "price": "31", "method": "cryptopay"}
    )
    text = await env.answered(rec, "Price set")
    assert "EUR, Crypto Pay: **31** (new price)" in text
    assert "Neverlose will show 30.50 EUR" in text
    rec = await env.run("price set", {"product": "marketplace", "currency": "USD", "price": "1.15"})
    assert "**marketplace (price of 1 NLE)**, USD, every method: **1.15**" in await env.answered(rec, "Price set")
    assert await env.shop.table.entries() == [
        PriceEntry("cs2-30", "EUR", Decimal("30.50")),
        PriceEntry("cs2-30", "EUR", Decimal("31"), PaymentMethod.CRYPTOPAY),
        PriceEntry("marketplace", "USD", Decimal("1.15")),
    ]
    rec = await env.run("price remove", {"product": "cs2", "plan": 30, "currency": "EUR", "method": "cryptopay"})
    assert "Price removed: **CS2, 30 days**, EUR, Crypto Pay (was 31)." in await env.answered(rec, "Price removed")
    rec = await env.run("price remove", {"product": "cs2", "plan": 30, "currency": "EUR", "method": "cryptopay"})
    assert "there is no price for cs2-30 EUR (cryptopay) to remove" in await env.answered(rec, "Invalid price")
    records = await env.bot.staff.audit.query(AuditQuery())  # type: ignore[union-attr]
    assert [r.entry.action for r in records] == [
        "shop price remove",
        "shop price set",
        "shop price set",
        "shop price set",
    ]
    assert {r.entry.staff_id for r in records} == {env.fake.staff.id}
    await env.fake.wait_for_message("audit", lambda m: "shop price set: succeeded" in str(m.get("embeds")))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"product": "dota", "plan": 30, "currency": "EUR", "price": "1"}, "Invalid product: 'dota' is not a product"),
        ({"product": "cs2", "plan": 45, "currency": "EUR", "price": "1"}, "Invalid plan: CS2 has no 45-day plan"),
        ({"product": "cs2", "currency": "EUR", "price": "1"}, "Invalid plan: choose the plan of CS2"),
        ({"product": "marketplace", "plan": 30, "currency": "EUR", "price": "1"}, "has no plan; leave plan empty"),
        ({"product": "cs2", "plan": 30, "currency": "usd", "price": "1"}, "Invalid currency: 'usd' must be exactly 3"),
        ({"product": "cs2", "plan": 30, "currency": "EURO", "price": "1"}, "Invalid currency: 'EURO'"),
        ({"product": "cs2", "plan": 30, "currency": "€", "price": "1"}, "Invalid currency: '€'"),
        ({"product": "cs2", "plan": 30, "currency": "EUR", "price": "0"}, "Invalid price: 0 must be positive"),
        ({"product": "cs2", "plan": 30, "currency": "EUR", "price": "-5"}, "Invalid price: -5 must be positive"),
        ({"product": "cs2", "plan": 30, "currency": "EUR", "price": "abc"}, "Invalid price: 'abc' is not a number"),
        (
            {"product": "cs2", "plan": 30, "currency": "EUR", "price": "1.123456789"},
            "Invalid price: 1.123456789 has 9 decimal places; at most 8 are allowed.",
        ),
        (
            {"product": "cs2", "plan": 30, "currency": "GBP", "price": "1"},
            "Invalid currency: cs2-30 already has 3 currencies (EUR, RUB, USD)",
        ),
    ],
)
async def test_every_rule_through_the_command(env: ShopEnv, options: dict[str, Any], expected: str) -> None:
    for code in ("EUR", "USD", "RUB"):
        await env.shop.table.put(PriceEntry("cs2-30", code, Decimal("1")), updated_by=None)
    before = await env.shop.table.entries()
    rec = await env.run("price set", options)
    text = await env.answered(rec, expected)
    assert rec.ephemeral
    assert "Price set" not in text
    assert await env.shop.table.entries() == before
    assert await env.bot.staff.audit.query(AuditQuery()) == []  # type: ignore[union-attr]


async def test_autocomplete(env: ShopEnv) -> None:
    products = await env.choices("price set", "product", {"product": ""})
    assert products == ["csgo", "cs2", "marketplace"]
    assert await env.choices("price set", "product", {"product": "mark"}) == ["marketplace"]
    assert await env.choices("price set", "plan", {"product": "cs2", "plan": ""}) == [30, 90, 180, 365]
    assert await env.choices("price set", "plan", {"product": "cs2", "plan": "3"}) == [30, 365]
    assert await env.choices("price set", "plan", {"product": "marketplace", "plan": ""}) == []
    assert await env.choices("price set", "currency", {"currency": ""}) == []
    await env.shop.table.put(PriceEntry("cs2-30", "USD", Decimal("1")), updated_by=None)
    await env.shop.table.put(PriceEntry("csgo-90", "EUR", Decimal("1")), updated_by=None)
    assert await env.choices("price set", "currency", {"currency": ""}) == ["EUR", "USD"]
    assert await env.choices("price remove", "currency", {"currency": "u"}) == ["USD"]
    # the price table's currencies are staff data: not offered to a member the command is shown to
    assert await env.choices("price set", "currency", {"currency": ""}, user="member") == []
    command = env.fake.command("shop")
    assert command is not None
    price = next(o for o in command["options"] if o["name"] == "price")
    set_options = next(o for o in price["options"] if o["name"] == "set")["options"]
    method = next(o for o in set_options if o["name"] == "method")
    assert [c["value"] for c in method["choices"]] == ["manual", "cryptopay"]


async def test_prices_show_paginates_and_shows_the_next_push(env: ShopEnv) -> None:
    await env.shop.methods.set_manual_instructions("card", None)
    for days in (30, 90, 180, 365):
        for code in ("EUR", "USD", "RUB"):
            for product in ("cs2", "csgo"):
                await env.shop.table.put(PriceEntry(f"{product}-{days}", code, Decimal(days)), updated_by=None)
    rec = await env.run("prices show")
    text = await env.answered(rec, "Price table (24 entries)")
    assert "Next push sends" in text
    assert '"csgo-30":{"EUR":"30","RUB":"30","USD":"30"}' in text
    message = rec.followups[-1] if rec.followups else rec.original_message()
    assert message is not None
    assert "Page 1/2" in str(message["embeds"])
    page = await env.fake.click_button(message, "next", user="staff")
    await page.wait_response()
    await env.fake.wait_for(lambda: "Page 2/2" in str(env.fake.state_message(int(message["id"]))))
    stranger = await env.fake.click_button(message, "previous", user="owner")
    await stranger.wait_response()
    assert "can use these buttons" in stranger.all_text()
    await env.shop.table.replace_all([], updated_by=None)
    rec = await env.run("prices show")
    text = await env.answered(rec, "Price table (0 entries)")
    assert "The price table is empty" in text
    assert "Nothing is pushed" in text


async def test_export_and_import_round_trip(env: ShopEnv) -> None:
    await env.shop.methods.set_manual_instructions("card", None)
    await env.shop.table.put(PriceEntry("cs2-30", "EUR", Decimal("30.50")), updated_by=None)
    await env.shop.table.put(PriceEntry("marketplace", "USD", Decimal("1.15")), updated_by=None)
    rec = await env.run("prices export")
    await env.answered(rec, "Neverlose's format")
    message = rec.original_message()
    assert message is not None
    [attachment] = message["attachments"]
    assert attachment["filename"] == "neverlose-prices.json"
    exported = env.fake.attachment_content(attachment)
    assert json.loads(exported) == {"cs2-30": {"EUR": "30.50"}, "marketplace": {"USD": "1.15"}}

    same = await env.run("prices import", {"file": env.fake.upload("prices.json", exported)}, user="owner")
    assert "matches the price table; nothing to import" in await env.answered(same, "nothing to import")

    changed = json.loads(exported)
    changed["cs2-30"]["EUR"] = "29.99"
    changed["cs2-90"] = {"EUR": "80"}
    del changed["marketplace"]
    upload = env.fake.upload("prices.json", json.dumps(changed).encode())
    rec = await env.run("prices import", {"file": upload}, user="owner")
    text = await env.answered(rec, "Import preview")
    assert "1 added, 1 changed, 1 removed" in text
    assert "~ cs2-30 EUR 30.50 (every method) → 29.99" in text
    assert "+ cs2-90 EUR 80 (every method)" in text
    assert "- marketplace USD 1.15 (every method)" in text
    intruder = await env.fake.click_button(rec, "shop:confirm", user="staff")
    await intruder.wait_response()
    assert "can use these buttons" in intruder.all_text()
    assert len(await env.shop.table.entries()) == 2  # unchanged
    confirm = await env.fake.click_button(rec, "shop:confirm", user="owner")
    await confirm.wait_response()
    await rec.wait_until(lambda r: "Imported: 1 added, 1 changed, 1 removed" in r.all_text())
    assert await env.shop.table.entries() == [
        PriceEntry("cs2-30", "EUR", Decimal("29.99")),
        PriceEntry("cs2-90", "EUR", Decimal("80")),
    ]
    records = await env.bot.staff.audit.query(AuditQuery())  # type: ignore[union-attr]
    assert records[0].entry.action == "shop prices import"
    assert records[0].entry.staff_id == env.fake.owner.id


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not json", "the file cannot be read: it is not valid JSON."),
        (b"[1]", "the file must hold one JSON object"),
        (b" " * (MAX_IMPORT_BYTES + 1), "at most 65,536 bytes (64 KiB) are accepted"),
        (
            b'{"cs2-30": {"eur": "1"}, "cs2-45": {"EUR": "1"}, "csgo-30": {"EUR": "0"}}',
            "the file has 3 problems",
        ),
    ],
)
async def test_import_rejections(env: ShopEnv, content: bytes, expected: str) -> None:
    await env.shop.table.put(PriceEntry("cs2-30", "EUR", Decimal("1")), updated_by=None)
    rec = await env.run("prices import", {"file": env.fake.upload("p.json", content)}, user="owner")
    text = await env.answered(rec, expected)
    assert "Nothing was imported" in text
    assert rec.ephemeral
    assert await env.shop.table.entries() == [PriceEntry("cs2-30", "EUR", Decimal("1"))]
    if b"eur" in content:
        assert "`cs2-30 → eur`: 'eur' must be exactly 3 upper-case Latin letters" in text
        assert "`cs2-45`: no plan lasts 45 days" in text
        assert "`csgo-30 → EUR`: 0 must be positive (more than 0)." in text


async def test_visibility_asks_for_confirmation_and_warns(env: ShopEnv) -> None:
    integration = env.sim.state.integrations["1"]
    rec = await env.run("visibility", {"public": True}, user="owner")
    text = await env.answered(rec, "Make your integration **public**?")
    assert "**Warning:** nothing is pushed to Neverlose yet. The price table is empty" in text
    assert integration.is_public is False
    confirm = await env.fake.click_button(rec, "shop:confirm", user="owner")
    await confirm.wait_response()
    await rec.wait_until(lambda r: "now public" in r.all_text())
    assert integration.is_public is True
    rec = await env.run("visibility", {"public": False}, user="owner")
    assert "now hidden" in await env.answered(rec, "now hidden")
    assert integration.is_public is False
    await env.shop.methods.set_manual_instructions("card", None)
    await env.shop.table.put(PriceEntry("cs2-30", "EUR", Decimal("1")), updated_by=None)
    rec = await env.run("visibility", {"public": True}, user="owner")
    assert "Warning" not in await env.answered(rec, "public")
    cancel = await env.fake.click_button(rec, "shop:cancel", user="owner")
    await cancel.wait_response()
    await rec.wait_until(lambda r: "Cancelled; nothing was changed." in r.all_text())
    assert integration.is_public is False
    refused = await env.run("visibility", {"public": True}, user="staff")
    assert NOT_MANAGER in await env.answered(refused, NOT_MANAGER)


async def test_an_unanswered_confirmation_expires_and_changes_nothing(env: ShopEnv) -> None:
    cog = env.bot.get_cog("Shop")
    assert cog is not None
    cog.confirm_timeout = 0.3  # type: ignore[attr-defined]
    rec = await env.run("visibility", {"public": True}, user="owner")
    await env.answered(rec, "Make your integration **public**?")
    await rec.wait_until(lambda r: "Expired; nothing was changed." in r.all_text())
    assert env.sim.state.integrations["1"].is_public is False
    assert env.sim.state.requests_for("integration-visibility") == []


async def test_status(env: ShopEnv) -> None:
    await env.shop.methods.set_manual_instructions("card", None)
    await env.shop.set_price(_actor(env), "cs2-30", "EUR", "1")
    await env.shop.pusher.push()
    rec = await env.run("status")
    text = await env.answered(rec, "Shop status")
    assert rec.ephemeral
    assert "Integration id: `1`" in text
    assert "Redirect URL: `https://shop.example/checkout`" in text
    assert "Entries: 1 in the table; 1 product(s) in the next push" in text
    assert "Enabled payment methods: manual" in text
    assert "Pushed prices: expire <t:" in text
    assert "Last successful push: <t:" in text
    assert env.sim.state.integrations["1"].prices == {"cs2-30": {"EUR": "1"}}


async def test_manual_method_command(env: ShopEnv) -> None:
    rec = await env.run("method manual", {"instructions": "Card 1234, order number in the comment"}, user="owner")
    assert "Manual payments are enabled" in await env.answered(rec, "enabled")
    assert await env.shop.methods.manual_instructions() == "Card 1234, order number in the comment"
    rec = await env.run("method manual", {"instructions": "off"}, user="owner")
    assert "Manual payments are disabled" in await env.answered(rec, "disabled")
    assert await env.shop.methods.manual_instructions() is None
    refused = await env.run("method manual", {"instructions": "x"}, user="staff")
    assert NOT_MANAGER in await env.answered(refused, NOT_MANAGER)
    records = await env.bot.staff.audit.query(AuditQuery())  # type: ignore[union-attr]
    assert [r.entry.result for r in records] == [
        "Card 1234, order number in the comment → none (disabled)",
        "none (disabled) → Card 1234, order number in the comment",
    ]


@pytest.mark.parametrize(
    ("sub", "options"),
    [
        ("price set", {"product": "cs2", "plan": 30, "currency": "EUR", "price": "1"}),
        ("price remove", {"product": "cs2", "plan": 30, "currency": "EUR"}),
        ("prices show", {}),
        ("prices export", {}),
        ("visibility", {"public": True}),
        ("status", {}),
        ("method manual", {"instructions": "x"}),
    ],
)
async def test_non_staff_refused(env: ShopEnv, sub: str, options: dict[str, Any]) -> None:
    rec = await env.run(sub, options, user="member")
    text = await env.answered(rec, "Only")
    assert rec.ephemeral
    assert NOT_STAFF in text or NOT_MANAGER in text
    assert await env.shop.table.entries() == []
    assert env.sim.state.integrations["1"].is_public is False
    assert await env.shop.methods.manual_instructions() is None
    assert await env.bot.staff.audit.query(AuditQuery()) == []  # type: ignore[union-attr]


async def test_non_staff_cannot_import(env: ShopEnv) -> None:
    await env.shop.table.put(PriceEntry("cs2-30", "EUR", Decimal("1")), updated_by=None)
    rec = await env.run("prices import", {"file": env.fake.upload("p.json", b"{}")}, user="member")
    assert NOT_MANAGER in await env.answered(rec, NOT_MANAGER)
    rec = await env.run("prices import", {"file": env.fake.upload("p.json", b"{}")}, user="staff")
    assert NOT_MANAGER in await env.answered(rec, NOT_MANAGER)  # staff without Manage Server
    assert len(await env.shop.table.entries()) == 1


def _actor(env: ShopEnv) -> Any:
    from bot.shop.service import Actor

    return Actor(env.fake.staff.id, env.fake.guild.id)
