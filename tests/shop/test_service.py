"""ShopService against the Market simulator: every rule, the audit trail, the exact bytes signed and sent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.market.client import MarketClient
from bot.market.errors import MarketError, MarketValidationError
from bot.market.simulator.runner import RunningSimulator
from bot.notifications.outbox import Outbox
from bot.shop.catalog import PaymentMethod
from bot.shop.importing import MAX_IMPORT_BYTES
from bot.shop.methods import MAX_INSTRUCTIONS, EnabledMethods
from bot.shop.price_table import PriceEntry
from bot.shop.service import Actor, ShopService, shop_disabled_reason
from bot.shop.state import MANUAL_INSTRUCTIONS, VISIBILITY_PUBLIC, ShopState
from bot.shop.validation import ShopInputError
from bot.staff.audit import AuditLog, AuditQuery
from bot.staff.errors import InvalidInput, StaffError
from bot.storage import Database
from tests.i18n.leaks import english_in
from tests.shop.conftest import Alerts, Clock

ALICE = Actor(1001, 42)
D = Decimal


@dataclass
class Shop:
    service: ShopService
    audit: AuditLog
    sim: RunningSimulator
    db: Database

    async def audit_rows(self) -> list[tuple[str, str, str, str, int]]:
        records = reversed(await self.audit.query(AuditQuery()))
        return [
            (r.entry.action, r.entry.event.value, r.entry.detail, r.entry.result, r.entry.staff_id) for r in records
        ]


@pytest.fixture
async def shop(
    shop_db: Database, market_client: MarketClient, market_sim: RunningSimulator, alerts: Alerts, clock: Clock
) -> Shop:
    audit = AuditLog(shop_db, clock=clock)
    state = ShopState(shop_db)
    service = ShopService(
        db=shop_db,
        market=market_client,
        integration_id=1,
        audit=audit,
        methods=EnabledMethods(state, cryptopay_enabled=False),
        state=state,
        alerts=alerts,
        refresh=timedelta(hours=1),
        checkout_path="/checkout",
        public_base_url="https://shop.example/",
        clock=clock,
    )
    return Shop(service, audit, market_sim, shop_db)


async def test_set_and_remove_are_audited_and_schedule_a_push(shop: Shop, clock: Clock) -> None:
    service = shop.service
    await service.pusher.tick()  # start: nothing to push yet
    assert service.pusher.next_push_at() == clock.now + timedelta(hours=1)
    change = await service.set_price(ALICE, "cs2", "EUR", "30.50")
    assert change.old is None
    assert change.new == PriceEntry("cs2-30", "EUR", D("30.50"), None)
    assert service.pusher.next_push_at() == clock.now + timedelta(seconds=3)
    change = await service.set_price(ALICE, "cs2-30", "EUR", "31", "manual")
    change = await service.set_price(ALICE, "cs2-30", "EUR", "29.99")
    assert change.old == PriceEntry("cs2-30", "EUR", D("30.50"), None)
    removed = await service.remove_price(ALICE, "cs2-30", "EUR", PaymentMethod.MANUAL)
    assert removed.price == D("31")
    assert await service.table.entries() == [PriceEntry("cs2-30", "EUR", D("29.99"), None)]
    assert await shop.audit_rows() == [
        ("shop price set", "succeeded", "cs2-30 EUR (every method)", "none → 30.50", 1001),
        ("shop price set", "succeeded", "cs2-30 EUR (manual)", "none → 31", 1001),
        ("shop price set", "succeeded", "cs2-30 EUR (every method)", "30.50 → 29.99", 1001),
        ("shop price remove", "succeeded", "cs2-30 EUR (manual)", "31 → none", 1001),
    ]
    records = await shop.audit.query(AuditQuery())
    assert {r.entry.guild_id for r in records} == {42}
    with pytest.raises(ShopInputError, match=r"there is no price for cs2-30 EUR \(manual\) to remove"):
        await service.remove_price(ALICE, "cs2-30", "EUR", "manual")
    assert await service.currencies() == ["EUR"]


@pytest.mark.parametrize(
    ("key", "currency", "price", "method", "message"),
    [
        ("dota-30", "EUR", "1", None, "Invalid product: unknown product 'dota'"),
        ("cs2-45", "EUR", "1", None, "Invalid product: no plan lasts 45 days"),
        ("cs2-30", "usd", "1", None, "Invalid currency: 'usd' must be exactly 3 upper-case Latin letters"),
        ("cs2-30", "EURO", "1", None, "Invalid currency: 'EURO'"),
        ("cs2-30", "€", "1", None, "Invalid currency: '€'"),
        ("cs2-30", "EUR", "0", None, "Invalid price: 0 must be positive"),
        ("cs2-30", "EUR", "-3", None, "Invalid price: -3 must be positive"),
        ("cs2-30", "EUR", "ten", None, "Invalid price: 'ten' is not a number"),
        ("cs2-30", "EUR", "1.000000001", None, "Invalid price: 1.000000001 has 9 decimal places; at most 8"),
        ("cs2-30", "EUR", 1.5, None, "floats are refused"),
        ("cs2-30", "EUR", "1", "paypal", "Invalid method: 'paypal' is not a payment method"),
        ("cs2-30", "GBP", "1", None, "Invalid currency: cs2-30 already has 3 currencies (EUR, RUB, USD)"),
    ],
)
async def test_every_rule_refuses_and_changes_nothing(
    shop: Shop, key: str, currency: str, price: object, method: str | None, message: str
) -> None:
    for code in ("EUR", "USD", "RUB"):
        await shop.service.set_price(ALICE, "cs2-30", code, "1")
    before = await shop.service.table.entries()
    audited = len(await shop.audit_rows())
    with pytest.raises(ShopInputError) as info:
        await shop.service.set_price(ALICE, key, currency, price, method)
    assert message in info.value.message
    assert isinstance(info.value, InvalidInput)
    assert await shop.service.table.entries() == before
    assert len(await shop.audit_rows()) == audited


async def test_fourth_currency_counts_method_prices_too(shop: Shop) -> None:
    await shop.service.set_price(ALICE, "cs2-30", "EUR", "1")
    await shop.service.set_price(ALICE, "cs2-30", "USD", "1", "manual")
    await shop.service.set_price(ALICE, "cs2-30", "XMR", "1", "cryptopay")
    with pytest.raises(ShopInputError, match="already has 3 currencies"):
        await shop.service.set_price(ALICE, "cs2-30", "GBP", "1", "manual")
    await shop.service.set_price(ALICE, "cs2-30", "USD", "2")  # a used currency is fine
    await shop.service.set_price(ALICE, "cs2-90", "GBP", "1")  # another plan has its own three


async def test_exact_bytes_signed_and_sent(shop: Shop, market_client: MarketClient) -> None:
    service = shop.service
    await service.set_manual_instructions(ALICE, "Pay to card 1234, put the order number in the comment")
    service.methods.cryptopay_enabled = True
    await service.set_price(ALICE, "cs2-30", "EUR", "30.50")
    await service.set_price(ALICE, "cs2-30", "EUR", "31.30", "cryptopay")
    await service.set_price(ALICE, "csgo-180", "XMR", "0.162")
    await service.set_price(ALICE, "marketplace", "USD", "1.15")
    await service.pusher.push()
    requests = shop.sim.state.requests_for("set-reseller-prices")
    assert len(requests) == 1
    prices = '{"csgo-180":{"XMR":"0.162"},"cs2-30":{"EUR":["30.50","31.30"]},"marketplace":{"USD":"1.15"}}'
    signature = hashlib.sha256(f"integration_id1prices{prices}user_id1sandbox-secret".encode()).hexdigest()
    expected = json.dumps(
        {"user_id": 1, "integration_id": 1, "prices": prices, "signature": signature}, separators=(",", ":")
    ).encode()
    assert requests[0].raw == expected
    assert requests[0].content_type == "application/json"
    integration = shop.sim.state.integrations["1"]
    assert integration.prices_text == prices
    assert integration.prices == json.loads(prices)
    assert await service.prices_json() == prices
    await service.pusher.push()  # the same table gives the same bytes
    assert shop.sim.state.requests_for("set-reseller-prices")[1].raw == expected


@pytest.mark.parametrize(
    ("integration", "text"),
    [(1, ""), (1, '["cs2-30"]'), (1, ' {"cs2-30":{"EUR":"1"}}'), (1, None), (0, '{"cs2-30":{"EUR":"1"}}')],
)
async def test_push_refuses_what_is_not_a_prices_text_before_sending(
    shop: Shop, market_client: MarketClient, integration: int, text: str
) -> None:
    with pytest.raises(MarketValidationError):
        await market_client.push_reseller_prices(integration, text)
    assert shop.sim.state.requests_for("set-reseller-prices") == []


async def test_nothing_is_pushed_without_prices_or_methods(shop: Shop) -> None:
    service = shop.service
    nxt = await service.next_push()
    assert (nxt.prices, nxt.text) == ({}, None)
    assert nxt.reason == "The price table is empty; add prices with `/shop price set`."
    await service.set_price(ALICE, "cs2-30", "EUR", "1")
    nxt = await service.next_push()
    assert nxt.text is None
    assert nxt.reason == "No payment method is enabled; set `/shop method manual` instructions or CRYPTOPAY_TOKEN."
    assert await service.shown_price("cs2-30", "EUR") is None
    await service.set_price(ALICE, "cs2-30", "EUR", "1", "cryptopay")
    await service.remove_price(ALICE, "cs2-30", "EUR")
    await service.set_manual_instructions(ALICE, "card 1234")
    nxt = await service.next_push()
    assert nxt.text is None
    assert nxt.reason == "No enabled payment method has a price in the table."
    await service.pusher.push()
    assert shop.sim.state.requests_for("set-reseller-prices") == []
    await service.set_price(ALICE, "cs2-30", "EUR", "2")
    assert (await service.next_push()).text == '{"cs2-30":{"EUR":"2"}}'
    assert await service.shown_price("cs2-30", "EUR") == D("2")
    assert await service.shown_price("cs2-30", "USD") is None
    assert await service.shown_price("cs2-90", "EUR") is None


async def test_manual_instructions_enable_the_method(shop: Shop, clock: Clock) -> None:
    service = shop.service
    await service.pusher.tick()
    assert await service.methods.enabled() == []
    now = await service.set_manual_instructions(ALICE, "  Card 1234\nput the order number in the comment  ")
    assert now == "Card 1234\nput the order number in the comment"
    assert await service.methods.enabled() == [PaymentMethod.MANUAL]
    assert await service.methods.manual_instructions() == "Card 1234\nput the order number in the comment"
    assert await service.state.get(MANUAL_INSTRUCTIONS) == "Card 1234\nput the order number in the comment"
    assert service.pusher.next_push_at() == clock.now + timedelta(seconds=3)  # the methods changed
    service.methods.cryptopay_enabled = True
    assert await service.methods.enabled() == [PaymentMethod.MANUAL, PaymentMethod.CRYPTOPAY]
    assert await service.set_manual_instructions(ALICE, "") is None
    assert await service.methods.enabled() == [PaymentMethod.CRYPTOPAY]
    with pytest.raises(ShopInputError, match=f"at most {MAX_INSTRUCTIONS} are allowed"):
        await service.set_manual_instructions(ALICE, "x" * (MAX_INSTRUCTIONS + 1))
    await service.set_manual_instructions(ALICE, "x" * MAX_INSTRUCTIONS)
    rows = await shop.audit_rows()
    assert rows[0] == (
        "shop method manual",
        "succeeded",
        "manual payment instructions",
        "none (disabled) → Card 1234 put the order number in the comment",
        1001,
    )
    assert rows[1][3] == "Card 1234 put the order number in the comment → none (disabled)"
    assert rows[2][3].startswith("none (disabled) → xxx")
    assert rows[2][3].endswith("…")
    assert len(rows) == 3
    # a word that means "disable" disables (any letter case); inside instructions it is text
    for word in ("off", " OFF ", "none", "Disable", "-"):
        await service.set_manual_instructions(ALICE, "card 1234")
        assert await service.set_manual_instructions(ALICE, word) is None
        assert await service.methods.manual_instructions() is None
    assert await service.set_manual_instructions(ALICE, "off card 1234") == "off card 1234"


async def test_visibility(shop: Shop) -> None:
    integration = shop.sim.state.integrations["1"]
    assert await shop.service.set_visibility(ALICE, True) is None
    assert integration.is_public is True
    assert await shop.service.state.get_bool(VISIBILITY_PUBLIC) is True
    assert await shop.service.set_visibility(ALICE, False) is True
    assert integration.is_public is False
    shop.service.integration_id = 99
    with pytest.raises(MarketError, match="Invalid integration_id"):
        await shop.service.set_visibility(ALICE, True)
    assert await shop.service.state.get_bool(VISIBILITY_PUBLIC) is False  # unchanged
    assert [(a, e, d, r) for a, e, d, r, _ in await shop.audit_rows()] == [
        ("shop visibility", "succeeded", "integration 1", "unknown → public"),
        ("shop visibility", "succeeded", "integration 1", "public → hidden"),
        ("shop visibility", "failed", "integration 99", "hidden → public failed: MarketError"),
    ]


async def test_status(shop: Shop, clock: Clock) -> None:
    service = shop.service
    status = await service.status()
    assert status.integration_id == 1
    assert status.public is None
    assert status.last_success is None
    assert status.next_push is None
    assert status.entries == 0
    assert status.redirect_url == "https://shop.example/checkout"
    assert status.nothing_reason == "The price table is empty; add prices with `/shop price set`."
    rows = dict(status.lines())
    assert rows["Next push"] == "at start"
    assert rows["Last successful push"] == "none yet"
    assert rows["Redirect URL"] == "`https://shop.example/checkout` (paste it into Neverlose's API settings)"
    assert rows["Enabled payment methods"] == "none"
    assert "Pushed prices" not in rows
    await service.set_manual_instructions(ALICE, "card")
    await service.set_price(ALICE, "cs2-30", "EUR", "1")
    await service.set_visibility(ALICE, True)
    await service.pusher.tick()
    status = await service.status()
    assert status.last_success == clock.now
    assert status.expires_at == clock.now + timedelta(hours=24)
    assert status.pushed_products == 1
    assert status.public is True
    rows = dict(status.lines())
    assert rows["Entries"] == "1 in the table; 1 product(s) in the next push"
    assert rows["Pushed prices"].startswith(f"expire <t:{int((clock.now + timedelta(hours=24)).timestamp())}:f>")
    assert rows["Visibility"].startswith("public, set <t:")
    assert "Last error" not in rows
    assert "Nothing to push" not in rows
    shop.sim.state.faults.fail_next("set-reseller-prices", times=10)
    clock.advance(hours=1)
    await service.pusher.tick()
    rows = dict((await service.status()).lines())
    assert rows["Last error"].startswith("Neverlose unreachable: set-reseller-prices: server error (HTTP 503)")
    service.public_base_url = None
    rows = dict((await service.status()).lines())
    assert rows["Redirect URL"] == "set PUBLIC_BASE_URL first; the Redirect URL is then PUBLIC_BASE_URL + `/checkout`"
    clock.advance(hours=30)
    rows = dict((await service.status()).lines())
    assert rows["Pushed prices"].startswith("expired <t:")


async def test_import_refused_when_the_table_changed_since_the_preview(shop: Shop) -> None:
    service = shop.service
    await service.set_price(ALICE, "cs2-30", "EUR", "1")
    plan = await service.plan_import(b'{"cs2-30": {"EUR": "2"}}')
    await service.set_price(ALICE, "cs2-90", "EUR", "5")
    with pytest.raises(InvalidInput, match="The price table changed since this preview; nothing was imported"):
        await service.apply_import(ALICE, plan)
    plan = await service.plan_import(b'{"cs2-30": {"EUR": "2"}}')
    await service.apply_import(ALICE, plan)
    assert await service.table.entries() == [PriceEntry("cs2-30", "EUR", D("2"), None)]
    rows = await shop.audit_rows()
    assert rows[-1] == (
        "shop prices import",
        "succeeded",
        "0 added, 1 changed, 1 removed",
        "~ cs2-30 EUR 1 (every method) → 2; - cs2-90 EUR 5 (every method)",
        1001,
    )


def test_disabled_reason() -> None:
    reason = shop_disabled_reason(None)
    assert reason is not None
    assert reason.startswith("MARKET_INTEGRATION_ID is not set")
    assert "docs/shop.md" in reason
    assert shop_disabled_reason(5) is None


async def test_outbox_alerts_reach_the_audit_target(shop_db: Database) -> None:
    from bot.shop.push import OutboxAlerts

    woken: list[int] = []
    alerts = OutboxAlerts(Outbox(shop_db), lambda: woken.append(1))
    await alerts("Neverlose checkout prices at risk", "why", problem=True)
    rows = await Outbox(shop_db).pending()
    assert [r.target for r in rows] == ["channel:audit"]
    assert "Neverlose checkout prices at risk" in rows[0].embeds[0]["title"]  # type: ignore[index]
    assert woken == [1]


async def test_the_services_refusals_carry_their_sentence_in_the_readers_language(shop: Shop) -> None:
    """The service (not the cog) gives a refusal of a value or a file its sentence in the reader's language (the
    English ``message`` stays what the validation and import modules wrote)."""
    service = shop.service
    refusals: list[StaffError] = []
    for attempt in (
        lambda: service.product_key("csgo2", None),
        lambda: service.check_import_size(MAX_IMPORT_BYTES + 1),
    ):
        with pytest.raises(StaffError) as refused:
            attempt()
        refusals.append(refused.value)
    for operation in (
        service.set_price(ALICE, "cs2-30", "EUR", "-1"),
        service.remove_price(ALICE, "cs2-30", "EUR"),
        service.plan_import(b"{not json"),
    ):
        with pytest.raises(StaffError) as refused:
            await operation
        refusals.append(refused.value)
    for refusal in refusals:
        assert refusal.said is not None
        russian = refusal.text_in("ru")
        assert russian not in (refusal.message, refusal.text_in("en"))
        assert english_in(russian) == [], russian
    assert refusals[0].text_in("ru").startswith("Неверн"), refusals[0].text_in("ru")
