"""The shop in ``reseller-bot sandbox`` and the push running as the bot's background task."""

from __future__ import annotations

from collections.abc import Callable

from bot.cli import _sandbox_market
from bot.market.simulator.runner import RunningSimulator
from bot.settings import Settings
from tests.fake_discord import FakeDiscord
from tests.plugins.bot import StartBot


async def test_sandbox_sets_an_integration_id_when_none_is_configured(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert settings.shop.integration_id is None
    async with _sandbox_market(settings) as (sandbox_settings, sim):
        assert sandbox_settings.shop.integration_id == 1
        assert "1" in sim.state.integrations
        assert sandbox_settings.shop.prices_refresh == settings.shop.prices_refresh
    settings = make_settings(MARKET_INTEGRATION_ID="77", RESELLER_PRICES_REFRESH="12h")
    async with _sandbox_market(settings) as (sandbox_settings, sim):
        assert sandbox_settings.shop.integration_id == 77
        assert "77" in sim.state.integrations  # the simulator knows the configured integration too
        assert sandbox_settings.shop.prices_refresh.total_seconds() == 12 * 3600


async def test_a_change_is_pushed_by_the_running_bot(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator
) -> None:
    bot = await start_bot(MARKET_INTEGRATION_ID="1", sandbox=True)
    assert bot.shop is not None
    assert [t.get_name() for t in bot._background if t.get_name() == "shop-prices"] == ["shop-prices"]
    rec = await fake_discord.invoke_command(
        "shop", {"instructions": "card 1234"}, user="owner", subcommand="method manual"
    )
    await rec.wait_until(lambda r: "enabled" in r.all_text())
    rec = await fake_discord.invoke_command(
        "shop",
        {"product": "cs2", "plan": 90, "currency": "EUR", "price": "44.10"},
        user="staff",
        subcommand="price set",
    )
    await rec.wait_until(lambda r: "Price set" in r.all_text())
    integration = market_sim.state.integrations["1"]
    await fake_discord.wait_for(lambda: integration.prices is not None, timeout=15)  # within 10 s of the change
    assert integration.prices_text == '{"cs2-90":{"EUR":"44.10"}}'
    assert len(market_sim.state.requests_for("set-reseller-prices")) == 1  # two changes, one push
    await bot.close()  # the pusher stops with the bot
    task = next(t for t in bot._background if t.get_name() == "shop-prices")
    assert task.done()


async def test_status_shows_a_sample_checkout_link_in_sandbox_only(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator
) -> None:
    import warnings

    import jwt
    from jwt.warnings import InsecureKeyLengthWarning

    bot = await start_bot(MARKET_INTEGRATION_ID="1", sandbox=True)
    rec = await fake_discord.invoke_command("shop", {}, user="staff", subcommand="status")
    await rec.wait_until(lambda r: "Sandbox sample checkout link" in r.all_text())
    text = rec.all_text()
    link = text[text.index(bot.web.local_url + "/checkout?nl_purchase=") :].split()[0]
    token = link.split("nl_purchase=", 1)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the sandbox secret is a demo value
        claims = jwt.decode(token, bot.settings.market.secret.get_secret_value(), algorithms=["HS256"], issuer="NLRI")
    assert claims["integration_id"] == 1
    assert (claims["product"], claims["days"]) == ("cs2", 30)
    await bot.close()

    bot = await start_bot(MARKET_INTEGRATION_ID="1")
    rec = await fake_discord.invoke_command("shop", {}, user="staff", subcommand="status")
    await rec.wait_until(lambda r: "Redirect URL" in r.all_text())
    assert "Sandbox sample checkout link" not in rec.all_text()
