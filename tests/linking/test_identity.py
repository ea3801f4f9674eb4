"""A link's identity is the Neverlose user id: the login follows renames (audit note, receipts by the current
login), links from before migration 0011 keep working and gain the user id when Neverlose confirms them."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.linking.links import AlreadyLinkedElsewhere, LinkRepository, find_by_logins_sync
from bot.linking.receipts import ReceiptHooks
from bot.linking.roles import RoleKey
from bot.notifications.outbox import Outbox
from bot.storage import Database
from bot.storage.migrations import load_migrations
from bot.webhooks.models import WebhookEvent
from bot.webhooks.store import WebhookStore
from tests.linking.conftest import Harness
from tests.linking.fake_idp import Account

GUILD = 111
ROLE = 501


async def _outbox(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetchall("SELECT target, dedupe_key, embeds FROM notification_outbox ORDER BY id")
    return [{"target": r[0], "dedupe_key": r[1], "embeds": json.loads(r[2])} for r in rows]


async def _audit_notes(db: Database) -> list[str]:
    return [json.dumps(row["embeds"]) for row in await _outbox(db) if row["target"] == "channel:audit"]


@pytest.fixture
async def wired(harness: Harness) -> Harness:
    harness.service.attach_outbox(Outbox(harness.db), wake=lambda: None)
    return harness


async def test_a_rename_is_followed_by_user_id_and_noted_in_the_audit_channel(wired: Harness) -> None:
    harness = wired
    assert (await harness.link(harness.browser(), 42))[0] == 200
    assert await _audit_notes(harness.db) == []

    harness.idp.account = Account("1001", "A50", "2021-04-05")  # same user id, new login on Neverlose
    harness.clock.advance(timedelta(days=3))
    status, html = await harness.link(harness.browser(), 42)
    assert status == 200, html
    assert "A50" in html
    assert "replaces" not in html  # the same account, not a different one
    assert await harness.links() == [(42, "1001", "A50")]
    (note,) = await _audit_notes(harness.db)
    assert "Neverlose login changed" in note
    assert "`A50`" in note
    assert "`A49`" in note
    assert "1001" in note
    assert "<@42>" in note

    # lookups by login use the current one
    assert await harness.service.links.get_by_login("A49") is None
    found = await harness.service.links.get_by_login("a50")
    assert found is not None
    assert (found.discord_user_id, found.neverlose_user_id) == (42, 1001)


async def test_a_rename_seen_through_another_members_attempt(wired: Harness) -> None:
    harness = wired
    assert (await harness.link(harness.browser(), 42))[0] == 200
    harness.idp.account = Account("1001", "A50", "2021-04-05")
    status, _ = await harness.link(harness.browser(), 77)  # someone else signs in with that account
    assert status == 409
    assert await harness.links() == [(42, "1001", "A50")]  # refused, but the existing link follows the login
    (note,) = await _audit_notes(harness.db)
    assert "`A50`" in note
    assert "<@42>" in note


async def test_receipts_and_roles_follow_the_current_login(wired: Harness) -> None:
    harness = wired
    db = harness.db
    await harness.service.roles.add(GUILD, RoleKey.ITEM, "E3yugw", ROLE, created_by=1)
    assert (await harness.link(harness.browser(), 42))[0] == 200
    harness.idp.account = Account("1001", "A50")
    assert (await harness.link(harness.browser(), 42))[0] == 200
    await db.execute("DELETE FROM notification_outbox")

    hooks = ReceiptHooks(db, Outbox(db))
    store = WebhookStore(db)
    store.add_events_hook(hooks.on_events)
    await store.start()
    try:
        now = datetime(2025, 1, 1, tzinfo=UTC)
        assert await store.add_event(
            WebhookEvent("purchase", 1, "A49", Decimal("0.9"), "E3yugw", now), body="{}", remote=None
        )
        assert await store.add_event(
            WebhookEvent("purchase", 2, "A50", Decimal("0.9"), "E3yugw", now), body="{}", remote=None
        )
    finally:
        await store.close()
    rows = await _outbox(db)
    assert [r["target"] for r in rows] == ["dm:42", f"role:{GUILD}:42:{ROLE}"]
    assert rows[0]["dedupe_key"] == "linking:receipt:purchase:2"
    assert "`A50`" in json.dumps(rows[0]["embeds"])


async def test_of_two_links_with_one_login_the_most_recently_confirmed_wins(harness: Harness) -> None:
    links = harness.service.links
    await links.link(1, "1001", "foo")
    harness.clock.advance(timedelta(minutes=1))
    # 1001 renamed itself to "bar" on Neverlose (not seen yet); 2002 took the free login "foo"
    await links.link(2, "2002", "foo")
    assert (await links.get_by_login("foo")).discord_user_id == 2  # type: ignore[union-attr]
    harness.clock.advance(timedelta(minutes=1))
    await links.link(1, "1001", "bar")  # 1001 confirmed as "bar"
    assert (await links.get_by_login("bar")).discord_user_id == 1  # type: ignore[union-attr]
    assert (await links.get_by_login("foo")).discord_user_id == 2  # type: ignore[union-attr]
    harness.clock.advance(timedelta(minutes=1))
    # and should the other link still carry a login someone confirmed later, the later one wins
    await harness.db.execute("UPDATE account_links SET neverlose_login = 'foo' WHERE discord_user_id = 1")
    await links.link(2, "2002", "foo")  # 2002 confirmed "foo" again just now
    assert (await links.get_by_login("foo")).discord_user_id == 2  # type: ignore[union-attr]
    conn = sqlite3.connect(harness.db.path)
    try:
        assert find_by_logins_sync(conn, ["FOO"])["foo"].discord_user_id == 2
    finally:
        conn.close()


async def test_links_from_before_user_ids_keep_working_and_gain_the_user_id(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = await Database.open(path, migrations=load_migrations()[:10])
    await old.execute(
        "INSERT INTO account_links (discord_user_id, neverlose_sub, neverlose_login, linked_at) VALUES (?, ?, ?, ?)",
        (42, "1001", "A49", "2024-06-01T10:00:00.000000Z"),
    )
    await old.close()

    db = await Database.open(path)  # migration 0011 applied
    try:
        row = await db.fetchone("SELECT neverlose_user_id, neverlose_reg_date, login_seen_at FROM account_links")
        assert tuple(row) == (None, None, "2024-06-01T10:00:00.000000Z")
        links = LinkRepository(db, clock=lambda: datetime(2026, 3, 20, tzinfo=UTC))
        legacy = await links.get_by_login("a49")
        assert legacy is not None
        assert (legacy.discord_user_id, legacy.neverlose_user_id, legacy.neverlose_reg_date) == (42, None, None)
        assert (await links.get(42)) == legacy

        # another Discord account signing in with that account is refused, and the old link gains the id
        with pytest.raises(AlreadyLinkedElsewhere, match="1001"):
            await links.link(77, "1001", "A49", reg_date=date(2021, 4, 5))
        updated = await links.get(42)
        assert updated is not None
        assert (updated.neverlose_user_id, updated.neverlose_reg_date) == (1001, date(2021, 4, 5))

        # the member linking again keeps one row, keyed by the user id
        link, replaced = await links.link(42, "1001", "A49", reg_date=date(2021, 4, 5))
        assert replaced == updated
        assert (link.neverlose_user_id, link.neverlose_login) == (1001, "A49")
        rows = await db.fetchall("SELECT discord_user_id, neverlose_user_id FROM account_links")
        assert [tuple(r) for r in rows] == [(42, 1001)]
    finally:
        await db.close()


async def test_one_user_id_cannot_be_linked_twice_even_with_a_differently_written_sub(harness: Harness) -> None:
    links = harness.service.links
    await links.link(1, "1001", "A49")
    with pytest.raises(AlreadyLinkedElsewhere, match="1001"):
        await links.link(2, "1001", "A49")
    # the UNIQUE user id index holds even if a sub were spelled differently (e.g. by another provider)
    with pytest.raises(sqlite3.IntegrityError):
        await harness.db.execute(
            "INSERT INTO account_links (discord_user_id, neverlose_sub, neverlose_login, linked_at, "
            "neverlose_user_id) VALUES (3, '01001', 'x', '2025-01-01T00:00:00.000000Z', 1001)"
        )
