"""Scenario 7: a bad token, an unreachable Market API and missing channel permissions each produce the
documented clear message, never a crash loop."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.cli import EXIT_CONFIG
from bot.market.simulator.runner import RunningSimulator
from bot.storage.migrations import load_migrations
from tests.e2e.conftest import StartBot
from tests.e2e.harness import BotProcess, answered, embed_field, embeds_in, wait_for_embed
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.e2e

BAD_TOKEN_LINE = (
    "Discord rejected DISCORD_TOKEN (401). Create a new token in the Developer Portal → Bot, put it in .env "
    "and restart."
)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released: connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def error_records(bot: BotProcess) -> list[str]:
    return [r for r in bot.records() if " ERROR " in r.split("\n")[0] or "Traceback" in r]


async def test_bad_token_halts_with_one_clear_message(
    make_bot: Callable[..., BotProcess], fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    bot = make_bot(DISCORD_TOKEN="not-the-token")
    await bot.start("run")
    body = await bot.wait_health(http, 503)
    assert body == {"status": "unavailable", "checks": {"configuration": "Discord rejected DISCORD_TOKEN (401)"}}
    assert bot.running  # halted, not exited: under `restart: unless-stopped` an exit would loop
    [error] = error_records(bot)
    assert re.fullmatch(r"\S+ \S+ ERROR +bot\.cli (.*)", error)[1] == BAD_TOKEN_LINE  # type: ignore[index]
    assert "not-the-token" not in "\n".join(bot.lines)  # the secret is never logged
    assert [c.status for c in fake.calls_to("GET", "/users/@me")] == [401]  # one login attempt, no retry loop
    assert not fake.gateway.connections
    # the container's HEALTHCHECK (`reseller-bot healthcheck`) reports it
    check = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "healthcheck", cwd=bot.cwd, env=bot.env | {"WEBHOOK_PORT": str(bot.port)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(check.communicate(), timeout=10)
    assert check.returncode == 1
    assert "unhealthy: 503" in err.decode()
    assert "Discord rejected DISCORD_TOKEN (401)" in err.decode()

    await bot.terminate(expect=EXIT_CONFIG)
    assert len(error_records(bot)) == 1


async def test_unreachable_market_api_warns_once_and_keeps_serving(
    start_bot: StartBot, fake: FakeDiscord, sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    market_url = f"http://127.0.0.1:{closed_port()}/api/market"
    bot = await start_bot(MARKET_BASE_URL=market_url)  # ready: gateway connected, /healthz 200
    # while the start-up check is still retrying: webhooks work and spending commands say what is wrong
    rec = await fake.invoke_command("gift", {"product": "cs2", "plan": 30, "username": "darth"}, user="staff")
    delivery = await sim.purchase(bot.webhook_url, "darth", "E3yugw")
    assert delivery.status == 200
    await wait_for_embed(fake, "purchases", lambda e: embed_field(e, "Unique ID") == "1")

    warning = await bot.wait_for_line(r"WARNING +bot\.core (Market API unreachable at .*)$", timeout=10)
    assert warning.group(1).startswith(f"Market API unreachable at {market_url}: ")
    assert warning.group(1).endswith("; spending commands will report it until it answers")
    status, body = await bot.healthz(http)
    assert (status, body["status"]) == (200, "ok")  # a Neverlose outage must not restart the container
    text = await answered(rec, "Neverlose is unreachable right now", timeout=15)
    assert "Confirm" not in text
    assert len(bot.log_lines("Market API unreachable at")) == 1
    await bot.terminate()
    bot.assert_clean_log()


async def test_missing_channel_permissions_reported_once_and_delivered_later(
    start_bot: StartBot, fake: FakeDiscord, sim: RunningSimulator
) -> None:
    purchases = fake.channels["purchases"]
    fake.forbid_channel(purchases)
    bot = await start_bot()
    for username in ("darth", "a49"):
        assert (await sim.purchase(bot.webhook_url, username, "E3yugw")).status == 200  # stored: it waits
    alert = await wait_for_embed(fake, "audit", lambda e: e.get("title") == "Cannot post notifications")
    assert f"<#{purchases.id}>" in alert["description"]
    assert "Missing Permissions" in alert["description"]
    await bot.wait_for_line(rf"notification problem key=blocked:{purchases.id} ")
    assert fake.messages("purchases") == []

    # permission restored; /setup notifications makes the bot look again at once
    fake.forbid_channel(purchases, forbidden=False)
    rec = await fake.invoke_command(
        "setup", {"kind": "purchase", "channel": purchases}, user="owner", subcommand="notifications"
    )
    await answered(rec, "Notifications waiting")
    await fake.wait_for(lambda: len(embeds_in(fake, "purchases")) == 2, timeout=10)
    assert [embed_field(e, "Buyer") for e in embeds_in(fake, "purchases")] == ["`darth`", "`a49`"]
    # the problem was reported once: one alert, one log line
    assert [e.get("title") for e in embeds_in(fake, "audit")].count("Cannot post notifications") == 1
    assert len(bot.log_lines(rf"notification problem key=blocked:{purchases.id} ")) == 1
    fake.assert_no_violations()
    await bot.terminate()
    bot.assert_clean_log()


async def test_discord_unreachable_at_start_up_is_retried_until_it_answers(
    make_bot: Callable[..., BotProcess], fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    """No network or DNS for Discord when the bot starts: one WARNING line per attempt, no traceback, and the bot
    logs in by itself once Discord answers (here: the fake Discord stopped, then started again on its port)."""
    await fake.stop()  # not listening: connecting is refused
    bot = make_bot()
    await bot.start("run")
    pattern = r"WARNING +bot\.cli (discord unreachable at start-up; .*)$"
    first = await bot.wait_for_line(pattern, timeout=15)
    assert first.group(1).startswith("discord unreachable at start-up; retrying in 2 s: ClientConnectorError: ")
    after = next(i for i, line in enumerate(bot.lines) if "discord unreachable" in line) + 1
    second = await bot.wait_for_line(pattern, timeout=15, after=after)
    assert second.group(1).startswith("discord unreachable at start-up; retrying in 4 s: ")
    await fake.start()
    await bot.wait_ready(fake, http)
    assert [c.status for c in fake.calls_to("GET", "/users/@me")] == [200]
    assert fake.gateway.connections
    await bot.terminate()
    assert not error_records(bot)  # neither a traceback nor an unclosed session
    assert fake.token not in "\n".join(bot.lines)


async def test_a_stop_while_waiting_for_discord_exits_at_once(make_bot: Callable[..., BotProcess]) -> None:
    bot = make_bot(DISCORD_API_BASE=FakeDiscord(port=closed_port()).api_base)  # nothing listens there
    await bot.start("run")
    await bot.wait_for_line(r"WARNING +bot\.cli discord unreachable at start-up; ", timeout=15)
    await bot.terminate(expect=0)
    assert not error_records(bot)


async def test_a_database_that_cannot_be_used_halts_with_one_clear_message(
    make_bot: Callable[..., BotProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    (tmp_path / "garbage.sqlite3").write_bytes(b"this is not an SQLite database\n" * 200)
    bot = make_bot(database="garbage.sqlite3")
    await bot.start("run")
    body = await bot.wait_health(http, 503)
    reason = "the database cannot be used: file is not a database"
    assert body == {"status": "unavailable", "checks": {"configuration": reason}}
    [error] = error_records(bot)
    line = re.fullmatch(r"\S+ \S+ ERROR +bot\.cli (.*)", error)
    assert line is not None
    assert (
        line[1]
        == f"the database cannot be used path={tmp_path / 'garbage.sqlite3'}: DatabaseError: file is not a database"
    )
    await bot.terminate(expect=EXIT_CONFIG)


async def test_a_database_of_a_newer_version_halts_with_one_clear_message(
    make_bot: Callable[..., BotProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """An image rolled back to an older version, over a database a newer one migrated: refused in plain words
    (before, a traceback and exit status 1, so a container restarted it in a loop), the file left as it was."""
    newest = load_migrations()[-1].version
    with contextlib.closing(sqlite3.connect(tmp_path / "newer.sqlite3")) as conn:
        conn.execute("CREATE TABLE from_the_future (x INTEGER)")
        conn.execute(f"PRAGMA user_version = {newest + 1}")
        conn.commit()
    bot = make_bot(database="newer.sqlite3")
    await bot.start("run")
    body = await bot.wait_health(http, 503)
    reason = f"database schema version {newest + 1} is newer than this bot knows ({newest}); upgrade the bot"
    assert body == {"status": "unavailable", "checks": {"configuration": f"the database cannot be used: {reason}"}}
    [error] = error_records(bot)
    line = re.fullmatch(r"\S+ \S+ ERROR +bot\.cli (.*)", error)
    assert line is not None
    assert line[1] == f"the database cannot be used path={tmp_path / 'newer.sqlite3'}: MigrationError: {reason}"
    await bot.terminate(expect=EXIT_CONFIG)
    assert not bot.log_lines(r"Traceback")
    with contextlib.closing(sqlite3.connect(tmp_path / "newer.sqlite3")) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newest + 1


async def test_a_port_in_use_halts_with_one_clear_message(make_bot: Callable[..., BotProcess], tmp_path: Path) -> None:
    """Another program holds WEBHOOK_PORT: one ERROR line naming the address and the fix, no traceback, the
    database left consistent, and the bot waits (no restart loop) until SIGTERM, then exits with status 2."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        bot = make_bot(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=str(port))
        await bot.start("run")
        await bot.wait_for_line(r"halted until SIGTERM/SIGINT", timeout=30)
        [error] = error_records(bot)
        line = re.fullmatch(r"\S+ \S+ ERROR +bot\.cli (.*)", error)
        assert line is not None
        assert line[1].startswith(f"cannot listen on 127.0.0.1:{port}: ")
        assert line[1].endswith("; free the port or set WEBHOOK_HOST / WEBHOOK_PORT in .env")
        assert bot.running
        await bot.terminate(expect=EXIT_CONFIG)
    assert not bot.log_lines(r"Traceback")
