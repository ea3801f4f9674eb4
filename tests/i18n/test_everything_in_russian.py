"""The whole bot in Russian (issue #19, "Done when"): one real ResellerBot with every feature on (staff
spending, orders, linking, stats, webhooks, the sandbox), every member with a Russian Discord and
``BOT_LOCALE=ru``; every slash command group is driven, the channel posts and DMs listed in
docs/i18n.md ("The whole-bot test") are produced, and the order and linking pages are opened with
``Accept-Language: ru``.

Then EVERY text the bot sent to Discord (each request's content, embeds, buttons, modals — collected from the
fake Discord's request log, so nothing is missed by forgetting to look) and every page is checked twice:

- :func:`tests.i18n.leaks.english_in`: no English catalog sentence;
- :func:`tests.i18n.everything.latin_runs`: no two Latin-alphabet words in a row except the allowlist (names,
  the test data's own values): this also catches an inline English string that never was in a catalog.

The per-area tests (tests/staff/test_answers_in_russian.py, tests/orders/test_discord_i18n.py,
tests/stats/test_stats_in_russian.py, tests/linking/test_cogs.py, …) check what each answer says; this one
checks that nothing anywhere is left English.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

import aiohttp
import pytest

from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.orders.cryptopay_events import OrderPaymentEvents
from bot.orders.models import OrderState
from bot.payments.cryptopay.provider import PaymentNotApplicable
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.cryptopay.webhook import read_update
from bot.payments.provider import PaymentOutcome, PaymentStatus
from bot.stats.periods import Period
from tests.fake_discord import FakeDiscord, FakeRole, InteractionRecord
from tests.i18n.everything import latin_runs, page_text, texts_sent
from tests.i18n.leaks import english_in
from tests.linking.conftest import idp, idp_options  # noqa: F401 (the fake Neverlose sign-in's fixtures)
from tests.linking.fake_idp import Account, FakeIdP
from tests.orders.test_discord import Shop
from tests.orders.test_discord_i18n import russian_shop
from tests.plugins.bot import StartBot

RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
ALLOWED = (
    # the logins and item codes of the test data (the Market simulator's users and catalogue)
    "darth",
    "ghost",
    "nobody",
    "E3yugw",
    # /audit's line: an amount, then the request id's label ("id" in Russian too: "тем же id запроса")
    "NLE id",
)


async def recorded_texts(w: World) -> list[str]:
    """What the bot recorded as data and shows as recorded (a person's cancel reason or refund note, an order's
    last error, a spending operation's error — the Market's own words): taken out of a text before it is
    checked; the sentence around them must be Russian. The audit's results and details (the shop's records
    too) and an order's other timeline notes are not taken out: they are shown in Russian (bot/staff/recorded.py,
    bot/shop/recorded.py), only the Market's words inside them stay as written."""
    db = w.shop.bot.db
    found: list[str] = []
    for sql in (
        # a person's reason (cancel) or refund note; the other timeline notes are shown in Russian
        "SELECT note FROM order_transitions WHERE to_state IN ('cancelled', 'refunded') AND actor LIKE 'staff:%'",
        "SELECT last_error FROM orders",
        "SELECT error FROM operations",
    ):
        found.extend(str(row[0]) for row in await db.fetchall(sql) if row[0])
    found.extend([value[:120] for value in found])  # /audit's lines clip a result (bot/staff/rendering.py)
    return sorted(set(found), key=len, reverse=True)


def without(text: str, recorded: list[str]) -> str:
    for value in recorded:
        text = text.replace(value, " ")
    return text


@dataclass
class World:
    shop: Shop
    idp: FakeIdP
    public: str

    @property
    def fake(self) -> FakeDiscord:
        return self.shop.fake

    @property
    def webhook_url(self) -> str:
        return self.shop.bot.web.local_url + self.shop.bot.settings.server.webhook_path

    async def run(
        self, name: str, options: dict[str, Any] | None = None, *, user: str = "staff", sub: str | None = None
    ) -> str:
        """Run a command and wait for its final answer (the text is checked with everything else at the end)."""
        record = await self.shop.run(name, options, user=user, subcommand=sub)
        return await self.shop.answered(record)

    async def record(
        self, name: str, options: dict[str, Any] | None = None, *, user: str = "staff", sub: str | None = None
    ) -> InteractionRecord:
        record = await self.shop.run(name, options, user=user, subcommand=sub)
        await self.shop.answered(record)
        return record


@pytest.fixture
async def world(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    market_sim: RunningSimulator,
    market_retry: RetryPolicy,
    idp: FakeIdP,  # noqa: F811
    unused_tcp_port: int,
) -> World:
    public = f"http://127.0.0.1:{unused_tcp_port}"
    idp.redirect_uris.add(public + "/oauth/callback")
    fake_discord.guild.roles["buyers"] = FakeRole(
        fake_discord.new_id(), "buyers", position=1
    )  # granted by /setup roles
    bot = await start_bot(
        sandbox=True,
        BOT_LOCALE="ru",
        TIMEZONE="Europe/Berlin",
        MARKET_INTEGRATION_ID="1",
        WEBHOOK_PORT=str(unused_tcp_port),
        PUBLIC_BASE_URL=public,
        OAUTH_CLIENT_ID=idp.client_id,
        OAUTH_ISSUER=idp.url,
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        PURCHASE_CHANNEL_ID=str(fake_discord.channels["purchases"].id),
        TRANSFER_CHANNEL_ID=str(fake_discord.channels["transfers"].id),
        STAFF_DAILY_LIMIT="200",
        TRANSFER_APPROVAL_THRESHOLD="100",
    )
    assert bot.staff is not None
    bot.staff.cooldown.seconds = 0
    assert bot.linking is not None
    for _ in range(250):  # discovery is read in the background at start; bounded wait
        if bot.linking.available:
            break
        await asyncio.sleep(0.02)
    assert bot.linking.available
    shop = await russian_shop(bot, fake_discord, market_sim, market_retry)
    return World(shop, idp, public)


# ------------------------------------------------------------------------------------------------ the parts
async def setup_commands(w: World) -> None:
    role = w.fake.guild.roles["buyers"]
    await w.run("setup", {"kind": "audit", "channel": w.fake.channels["audit"]}, user="owner", sub="notifications")
    await w.run("setup", {"role": w.fake.staff_role}, user="owner", sub="staff-role")
    await w.run("setup", {"daily_limit": "5000", "approval_threshold": "100"}, user="owner", sub="limits")
    await w.run("setup", {"daily_limit": "9999"}, user="staff", sub="limits")  # not a manager
    await w.run("setup", {"action": "add", "kind": "item", "key": "E3yugw", "role": role}, user="owner", sub="roles")
    await w.run("setup", {"action": "add", "kind": "item", "key": "bad code!", "role": role}, user="owner", sub="roles")
    await w.run("setup", {"action": "list"}, user="owner", sub="roles")


async def sign_in(w: World, pages: list[str]) -> None:
    """``/link start`` and the sign-in behind its button, to the result page."""
    record = await w.record("link", user="member", sub="start")
    message = record.final_message()
    assert message is not None
    url = message["components"][0]["components"][0]["url"]
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser, browser.get(url, headers=RU) as page:
        assert page.status == 200
        pages.append(await page.text())


async def linking(w: World, pages: list[str]) -> None:
    await sign_in(w, pages)
    await w.fake.wait_for_dm("member")  # the link confirmation
    async with aiohttp.ClientSession() as browser, browser.get(w.public + "/oauth/callback", headers=RU) as page:
        pages.append(await page.text())  # a callback without its state: the linking error page
    await w.run("link", user="member", sub="status")
    await w.run("whois", {"username": "a49"})
    await w.run("whois", {"username": "nobody"})
    await w.run("whois", {})
    await w.run("whois", {"username": "a49"}, user="member")  # not staff


async def staff_spending(w: World) -> None:
    shop = w.shop
    await w.run("balance")
    await w.run("prices", {"product": "cs2"})
    await w.run("user", {"username": "a49", "product": "cs2"}, sub="check")
    await w.run("gift", {"product": "cs2", "plan": 30, "username": "ghost"})
    await w.run("transfer", {"username": "a49", "amount": "1.234"})

    gift = await w.record("gift", {"product": "csgo", "plan": 30, "username": "a49"})
    await (await w.fake.click_button(gift, "confirm", user="staff")).wait_response()
    await gift.wait_until(lambda r: "Готово" in r.all_text())

    give = await w.record("give", {"code": "E3yugw", "username": "a49"})
    other = await w.fake.click_button(give, "confirm", user="owner")  # not the one who asked
    await other.wait_response()
    await (await w.fake.click_button(give, "cancel", user="staff")).wait_response()

    approval = await w.record("transfer", {"username": "a49", "amount": "150"})
    await (await w.fake.click_button(approval, "confirm", user="staff")).wait_response()
    posted = await w.fake.wait_for_message("audit", lambda m: bool(m.get("components")))
    own = await w.fake.click_button(posted, next(_ids(posted, "staff:approve:")), user="staff")
    await shop.answered(own)
    approve = await w.fake.click_button(posted, next(_ids(posted, "staff:approve:")), user="owner")
    await shop.answered(approve)
    await w.fake.wait_for(lambda: len(shop.sim.state.effects("transfer-money")) == 1)  # the approved transfer

    shop.sim.state.faults.drop_next("transfer-money", times=4)
    unknown = await w.record("transfer", {"username": "a49", "amount": "5"})
    await (await w.fake.click_button(unknown, "confirm", user="staff")).wait_response()
    await unknown.wait_until(lambda r: "перепроверена" in r.all_text())
    pending = await w.record("operations", sub="pending")
    message = pending.followups[-1] if pending.followups else pending.original_message()
    assert message is not None
    retry = await w.fake.click_button(message, next(_ids(message, "retry:")), user="staff")
    await shop.answered(retry, "Готово")

    audit = await w.record("audit")
    await audit.wait_until(lambda r: "Вся выборка" in r.all_text())
    await w.run("balance", user="member")  # not staff: the error handler's refusal


def _ids(message: dict[str, Any], prefix: str) -> Any:
    return (
        c["custom_id"]
        for row in message["components"]
        for c in row["components"]
        if c.get("custom_id", "").startswith(prefix)
    )


async def orders(w: World) -> None:
    shop = w.shop
    await w.run("buy", {"product": "cs2", "plan": 30}, user="owner", sub="product")  # not linked
    await w.run("buy", {"product": "cs2", "plan": 30}, user="member", sub="product")
    await w.run("buy", {"amount": "lots"}, user="member", sub="nle")
    await w.run("buy", {"amount": "0"}, user="member", sub="nle")
    await w.run("orders", {}, user="member", sub="mine")

    order = await shop.claimed_order("a49", nle=Decimal("5"), user=w.fake.member.id)
    await w.run("order", {"id": order.id}, sub="show")
    await w.run("order", {"id": "nope"}, sub="show")
    await w.run("orders", {"state": "awaiting_payment", "days": 2}, sub="list")
    card = await shop.card(order.id, "order:confirm:")
    await shop.answered(await w.fake.click_button(card, f"order:confirm:{order.id}", user="staff"), "подтверждена")
    await shop.state(order.id, OrderState.DELIVERED)
    await w.fake.wait_for_dm("member", lambda m: "Чек" in str(m["embeds"]))

    other = await shop.claimed_order("darth")
    stuck = await shop.claimed_order("darth")
    card = await shop.card(stuck.id, "order:confirm:")
    shop.sim.state.user("darth").invited.clear()  # type: ignore[union-attr]
    await shop.answered(await w.fake.click_button(card, f"order:confirm:{stuck.id}", user="staff"), "подтверждена")
    await shop.state(stuck.id, OrderState.NEEDS_ATTENTION)
    card = await shop.card(stuck.id, "order:retry:")
    await shop.answered(await w.fake.click_button(card, f"order:retry:{stuck.id}", user="staff"))
    card = await shop.card(stuck.id, "order:refund:")
    refund = await w.fake.click_button(card, f"order:refund:{stuck.id}", user="staff")
    await refund.wait_response()
    await shop.answered(await w.fake.submit_modal(refund, {"note": "sent back by bank transfer"}, user="staff"))

    await w.run("order", {"id": other.id, "note": "paid back"}, sub="refund")  # too early
    await w.run("order", {"id": other.id, "reason": "duplicate"}, sub="cancel")
    await w.run("order", {"id": other.id}, sub="retry")  # cancelled: cannot


async def stats(w: World) -> None:
    for options in ({}, {"export": True}, {"from": "yesterday"}, {"from": "2026-03-02", "to": "2026-03-01"}):
        record = await w.shop.run("stats", options)
        await record.wait_until(lambda r: bool(r.followups), timeout=30)  # the chart takes a while on a busy CPU
    cog = cast(Any, w.shop.bot.get_cog("Stats"))
    today = date.today()
    week = Period(today.replace(day=1), today, cog.stats.settings.zone)
    assert await cog.post_digest(week, w.fake.channels["general"].id)
    stats_feature = w.shop.bot.stats
    assert stats_feature is not None
    sent = len(w.fake.messages("audit"))
    for threshold in (Decimal("1000000"), Decimal("0")):  # the low-balance alert, then its recovery
        stats_feature.watch.threshold = threshold
        assert await stats_feature.watch.check() is not None
        sent += 1
        await w.fake.wait_for(lambda: len(w.fake.messages("audit")) >= sent)  # noqa: B023 - awaited here


async def webhooks_and_notifications(w: World) -> None:
    await w.run("sandbox", {"username": "A49", "item": "E3yugw"}, sub="purchase")  # linked: receipt DM and role
    await w.fake.wait_for_message("purchases", lambda m: "E3yugw" in str(m))
    await w.run("sandbox", {"username": "a49", "amount": "5,50"}, sub="transfer")
    await w.fake.wait_for_message("transfers", lambda m: "a49" in str(m))
    # a signed body that is not a valid event: quarantined, alerted in the audit channel
    await w.shop.sim.send_event(w.webhook_url, "transfer", amount=5, username="bad name!")
    await w.fake.wait_for_message("audit", lambda m: "SHA-256" in str(m))
    # delivery problems: a channel the bot may no longer post in, a member whose DMs are closed
    w.fake.forbid_channel("transfers")
    await w.shop.sim.receive_transfer(w.webhook_url, "a49", Decimal("2"))
    await w.fake.wait_for_message("audit", lambda m: "50013" in str(m))
    w.fake.close_dms("member")
    del w.fake.guild.roles["buyers"]  # the mapped role was deleted: the grant fails
    await w.shop.sim.purchase(w.webhook_url, "A49", "E3yugw")
    await w.fake.wait_for_message("audit", lambda m: "50007" in str(m), timeout=10)
    await w.fake.wait_for_message("audit", lambda m: "10011" in str(m), timeout=10)
    await w.run("webhook", {}, sub="status")


async def renamed(w: World, pages: list[str]) -> None:
    """The linked account got a new login on Neverlose: signing in again notes the rename in the audit channel."""
    w.idp.account = Account(w.idp.account.sub, "A50")
    await sign_in(w, pages)
    await w.fake.wait_for_message("audit", lambda m: "`A50`" in str(m))


async def shop_commands(w: World) -> None:
    """Every /shop command (the price table, export and import, visibility, the manual method, status) and a
    price push alert; the buttons confirmed or cancelled so their answers are checked too."""
    await w.run("shop", {"product": "cs2", "plan": 90, "currency": "RUB", "price": "1234.50"}, sub="price set")
    await w.run("shop", {"product": "cs2", "plan": 90, "currency": "RUB", "price": "-1"}, sub="price set")
    await w.run("shop", {"product": "cs2", "plan": 90, "currency": "RUB"}, sub="price remove")
    await w.run("shop", {"product": "cs2", "plan": 90, "currency": "RUB"}, sub="price remove")  # already gone
    assert "Таблица цен" in await w.run("shop", {}, sub="prices show")
    export = await w.record("shop", {}, sub="prices export")
    message = export.followups[-1] if export.followups else export.original_message()
    assert message is not None
    exported = json.loads(w.fake.attachment_content(message["attachments"][0]))
    same = w.fake.upload("same.json", json.dumps(exported).encode())
    await w.run("shop", {"file": same}, user="owner", sub="prices import")
    exported.setdefault("cs2-90", {})["EUR"] = "80"
    changed = await w.record(
        "shop", {"file": w.fake.upload("p.json", json.dumps(exported).encode())}, user="owner", sub="prices import"
    )
    await w.shop.answered(await w.fake.click_button(changed, "shop:confirm", user="owner"))
    await w.run("shop", {"file": w.fake.upload("bad.json", b"{not json")}, user="owner", sub="prices import")
    public = await w.record("shop", {"public": True}, user="owner", sub="visibility")
    await w.shop.answered(await w.fake.click_button(public, "shop:cancel", user="owner"))
    await w.run("shop", {"instructions": "Карта 1234, в комментарии номер заказа"}, user="owner", sub="method manual")
    await w.run("shop", {"instructions": "off"}, user="owner", sub="method manual")  # recorded: "… → none (disabled)"
    await w.run("shop", {"instructions": "Карта 1234"}, user="owner", sub="method manual")
    w.shop.sim.state.faults.fail_next("set-reseller-prices", times=4)
    await w.shop.bot.shop.pusher.push()  # type: ignore[union-attr]  # fails: the push alert in the audit channel
    status = await w.run("shop", {}, sub="status")
    assert "Состояние магазина" in status
    assert "set-reseller-prices: ошибка сервера (HTTP 503)" in status  # the Market client's detail, in Russian
    audit = await w.record("audit")  # the shop's records (prices, the import's diff, the method) in /audit
    await audit.wait_until(lambda r: "Вся выборка" in r.all_text())


async def cryptopay_alerts(w: World) -> None:
    """Crypto Pay's audit alerts in the audit channel. The whole bot runs without Crypto Pay: its store is built
    over the bot's own outbox (the dispatcher posts what it queues) and the order side is the bot's real one. A
    payment for the cancelled order (what CryptoPayProvider.confirm does when the order side refuses it), and
    a signed update whose payload is not an invoice (what the webhook stores)."""
    bot = w.shop.bot
    assert bot.webhooks is not None
    store = CryptoPayStore(bot.db, bot.webhooks.outbox, wake=bot.webhooks.dispatcher.wake)
    service = w.shop.feature.service
    cancelled = next(order for order in await service.find() if order.state is OrderState.CANCELLED)
    with pytest.raises(PaymentNotApplicable) as refused:
        await OrderPaymentEvents(service).payment_confirmed(cancelled.id, PaymentStatus(PaymentOutcome.PAID, "cp-1"))
    await store.alert_unapplied(cancelled.id, str(refused.value))
    body = json.dumps({"update_type": "invoice_paid", "payload": {"invoice_id": 7, "status": "lost"}})
    reason = read_update(body)
    assert isinstance(reason, str)
    await store.record_unusable(body, reason, remote=None)
    await w.fake.wait_for_message("audit", lambda m: "заказ отменили до того, как пришла оплата" in str(m))
    await w.fake.wait_for_message("audit", lambda m: "неизвестный статус счёта 'lost'" in str(m))


# ------------------------------------------------------------------------------------------------ the test
async def test_every_answer_notification_dm_and_page_in_russian(world: World) -> None:
    pages: list[str] = []
    await setup_commands(world)
    await linking(world, pages)
    await staff_spending(world)
    await orders(world)
    await shop_commands(world)
    await cryptopay_alerts(world)
    await stats(world)
    await webhooks_and_notifications(world)
    await renamed(world, pages)
    await asyncio.sleep(0.2)  # let the dispatcher post what it queued last

    async with aiohttp.ClientSession() as browser:
        (order, *_) = await world.shop.feature.service.find()
        for path in (f"/orders/{order.id}", "/orders/nope", f"/lang/ru?next=/orders/{order.id}"):
            async with browser.get(world.public + path, headers=RU) as page:
                pages.append(await page.text())

    recorded = await recorded_texts(world)
    sent = [without(text, recorded) for text in texts_sent(world.fake)]
    assert len(sent) > 200, len(sent)  # everything above reached Discord
    leaks = {text: english_in(text) for text in sent if english_in(text)}
    assert leaks == {}
    runs = {text: latin_runs(text, ALLOWED) for text in sent if latin_runs(text, ALLOWED)}
    assert runs == {}
    for html in pages:
        assert '<html lang="ru">' in html
        assert english_in(page_text(html)) == []
        assert latin_runs(page_text(html), ALLOWED) == [], page_text(html)
    world.fake.assert_no_violations()


def test_the_latin_run_check_finds_english_and_passes_russian() -> None:
    assert latin_runs("Готово: CS2, 30 дн. для `a49`.") == []
    assert latin_runs("Оплата через Crypto Pay, см. https://shop.example/orders/x") == []
    assert latin_runs("Статус: payment claimed") == ["payment claimed"]
    assert latin_runs('```json\n{"kind": "bad kind"}```') == []
    assert latin_runs("привязан к аккаунту Neverlose A49 и `rb-1-x` @CryptoBot") == []
    assert latin_runs("Заказ: Order blocked before payment") == ["Order blocked before payment"]
