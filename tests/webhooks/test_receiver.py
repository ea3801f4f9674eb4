"""The webhook route against a real server on 127.0.0.1:0 and a real SQLite file."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3

import aiosqlite
import pytest

from bot.market.signing import sign, signed_body
from bot.storage import Database
from bot.webhooks.status import collect_status
from tests.webhooks.helpers import SECRET, Receiver, purchase, transfer

PURCHASE_VECTOR = {
    "kind": "purchase",
    "amount": 0.9,
    "username": "A49",
    "unique_id": 89968,
    "item_id": "E3yugw",
    "signature": "dc20a4d73447ac51689d6e03115aa135a8d734e610352dda818e830e70a60560",
}
TRANSFER_VECTOR = {
    "kind": "transfer",
    "amount": 1,
    "username": "A49",
    "unique_id": 22,
    "signature": "51a6c1c281c4cd8c4e020f89cc3bdca6aa6c0747fc33f7112ef041064bd864a2",
}


async def test_published_purchase_vector_is_accepted_and_queued(receiver: Receiver) -> None:
    status, body = await receiver.post(PURCHASE_VECTOR)
    assert (status, body) == (200, {"status": "accepted"})
    assert await receiver.events() == [("purchase", 89968)]
    assert await receiver.outbox_rows() == [("channel:purchase", "webhook:purchase:89968")]
    row = await receiver.db.fetchone("SELECT username, amount, item_id FROM webhook_events")
    assert row is not None
    assert (row["username"], row["amount"], row["item_id"]) == ("A49", "0.9", "E3yugw")
    (pending,) = await receiver.outbox.pending()  # the announcement is rendered from the event row
    embeds = pending.embeds
    assert "https://neverlose.cc/market/item?id=E3yugw" in json.dumps(embeds)


async def test_published_transfer_vector_is_accepted_and_queued(receiver: Receiver) -> None:
    status, body = await receiver.post(TRANSFER_VECTOR)
    assert (status, body) == (200, {"status": "accepted"})
    assert await receiver.events() == [("transfer", 22)]
    assert await receiver.outbox_rows() == [("channel:transfer", "webhook:transfer:22")]


async def test_documented_form_both_kinds(receiver: Receiver) -> None:
    assert (await receiver.post(purchase(1)))[0] == 200
    assert (await receiver.post(transfer(1)))[0] == 200
    assert sorted(await receiver.events()) == [("purchase", 1), ("transfer", 1)]


async def test_duplicate_delivery_creates_nothing_new(receiver: Receiver) -> None:
    assert await receiver.post(purchase(5)) == (200, {"status": "accepted"})
    assert await receiver.post(purchase(5)) == (200, {"status": "duplicate"})
    assert await receiver.post(PURCHASE_VECTOR) == (200, {"status": "accepted"})
    assert await receiver.post(PURCHASE_VECTOR) == (200, {"status": "duplicate"})
    assert len(await receiver.events()) == 2
    assert len(await receiver.outbox_rows()) == 2


async def test_same_unique_id_in_both_kinds_is_two_events(receiver: Receiver) -> None:
    assert (await receiver.post(purchase(7)))[1] == {"status": "accepted"}
    assert (await receiver.post(transfer(7)))[1] == {"status": "accepted"}


async def test_concurrent_duplicates_store_once(receiver: Receiver) -> None:
    import asyncio

    results = await asyncio.gather(*(receiver.post(transfer(9)) for _ in range(20)))
    statuses = sorted(body["status"] for _, body in results)
    assert statuses.count("accepted") == 1
    assert statuses.count("duplicate") == 19
    assert await receiver.events() == [("transfer", 9)]


async def test_reordering_and_gaps(receiver: Receiver) -> None:
    for uid in (1, 5):
        assert (await receiver.post(purchase(uid)))[0] == 200
    gaps = await receiver.store.gaps()
    assert [(g.kind, g.first_missing, g.last_missing) for g in gaps] == [("purchase", 2, 4)]
    assert (await receiver.post(purchase(3)))[0] == 200  # late: splits the gap
    gaps = await receiver.store.gaps()
    assert [(g.first_missing, g.last_missing) for g in gaps] == [(2, 2), (4, 4)]
    for uid in (4, 2):
        assert (await receiver.post(purchase(uid)))[0] == 200
    assert await receiver.store.gaps() == []
    assert sorted(uid for _, uid in await receiver.events()) == [1, 2, 3, 4, 5]
    # the transfer sequence is separate
    for uid in (10, 13):
        assert (await receiver.post(transfer(uid)))[0] == 200
    await receiver.processor.drain()  # nothing was deferred: returns at once
    status = await collect_status(receiver.store, receiver.outbox, webhook_url="https://x.example/webhooks/market")
    assert [(g.kind, g.first_missing, g.last_missing) for g in status.gaps] == [("transfer", 11, 12)]
    assert status.missing_events == 2
    assert status.events_24h == {"purchase": 5, "transfer": 2}
    assert status.last_events["purchase"].unique_id == 5
    assert status.last_events["transfer"].unique_id == 13
    assert status.pending_notifications == 7
    assert (status.fanout_waiting, status.fanout_failed) == (0, 0)


async def test_gaps_survive_a_restart(db: Database, receiver: Receiver) -> None:
    from tests.webhooks.helpers import running_receiver

    assert (await receiver.post(transfer(1)))[0] == 200
    await receiver.store.close()
    async with running_receiver(db) as again:
        assert (await again.post(transfer(4)))[0] == 200
        assert [(g.first_missing, g.last_missing) for g in await again.store.gaps()] == [(2, 3)]


async def test_forged_signature_is_401_logged_and_counted(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    forged = purchase(11)
    forged["signature"] = sign({k: v for k, v in forged.items() if k != "signature"}, "not-the-secret")
    tampered = purchase(12)
    tampered["amount"] = 1000.0
    caplog.set_level(logging.WARNING, logger="bot.webhooks.receiver")
    assert (await receiver.post(forged))[0] == 401
    assert (await receiver.post(tampered))[0] == 401
    bad_hex = dict(purchase(13), signature="zz")
    assert (await receiver.post(bad_hex))[0] == 401
    assert await receiver.events() == []
    assert await receiver.outbox_rows() == []
    rejected = [r for r in caplog.records if "signature rejected" in r.getMessage()]
    assert len(rejected) == 3
    for record in rejected:
        text = record.getMessage()
        assert "remote=127.0.0.1" in text
        assert "kind=purchase" in text
        assert SECRET not in text.replace("kind", "")
        assert forged["signature"] not in text
        assert "E3yugw" not in text
    status = await collect_status(receiver.store, receiver.outbox, webhook_url=None)
    assert status.rejected_signatures_24h == 3
    await receiver.store.close()  # flushes the counter to the database
    row = await receiver.db.fetchone("SELECT sum(count) FROM webhook_rejections")
    assert row is not None
    assert row[0] == 3


async def test_resplit_signature_is_quarantined_not_acted_on(receiver: Receiver) -> None:
    # "amount1.0kindtransferunique_id22usernameA49" can be re-split into other keys and values.
    original = signed_body({"amount": 1.0, "kind": "transfer", "unique_id": 22, "username": "A49"}, SECRET)
    resplit = {"amount": "1.0kindtransfer", "unique_id": 22, "username": "A49", "signature": original["signature"]}
    status, body = await receiver.post(resplit)
    assert (status, body) == (200, {"status": "quarantined"})
    assert await receiver.events() == []
    digest = hashlib.sha256(json.dumps(resplit).encode()).hexdigest()
    assert await receiver.outbox_rows() == [("channel:audit", f"quarantine:{digest}")]


async def _quarantined(receiver: Receiver) -> list[tuple[str, str | None]]:
    rows = await receiver.db.fetchall("SELECT reason, kind FROM webhook_quarantine ORDER BY id")
    return [(str(r[0]), None if r[1] is None else str(r[1])) for r in rows]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "refund", "amount": 1.0, "username": "A49", "unique_id": 3}, "unknown kind"),
        ({"amount": 1.0, "username": "A49", "unique_id": 3}, "unknown kind"),
        ({"kind": "transfer", "amount": 1.0, "username": "A49"}, "missing unique_id"),
        ({"kind": "purchase", "amount": 1.0, "username": "A49", "unique_id": 3}, "missing item_id"),
        (
            {"kind": "transfer", "amount": 1.0, "username": "A49", "unique_id": 3, "item_id": "E3yugw"},
            "1 unexpected field(s)",
        ),
        ({"kind": "transfer", "amount": 1.0, "username": "A49", "unique_id": "3"}, "unique_id must be an integer"),
        ({"kind": "transfer", "amount": 1.0, "username": "A49", "unique_id": True}, "unique_id must be an integer"),
        ({"kind": "transfer", "amount": 1.0, "username": "A49", "unique_id": 0}, "unique_id out of range"),
        ({"kind": "transfer", "amount": 1.0, "username": "A49", "unique_id": 2**63}, "unique_id out of range"),
        ({"kind": "transfer", "amount": "1.0", "username": "A49", "unique_id": 3}, "amount must be a number"),
        ({"kind": "transfer", "amount": True, "username": "A49", "unique_id": 3}, "amount must be a number"),
        ({"kind": "transfer", "amount": -1.0, "username": "A49", "unique_id": 3}, "amount must be positive"),
        ({"kind": "transfer", "amount": 0, "username": "A49", "unique_id": 3}, "amount must be positive"),
        ({"kind": "transfer", "amount": 1e12, "username": "A49", "unique_id": 3}, "amount is implausibly large"),
        ({"kind": "transfer", "amount": 1.0, "username": "A 49", "unique_id": 3}, "username is not a plausible login"),
        ({"kind": "transfer", "amount": 1.0, "username": 49, "unique_id": 3}, "username is not a plausible login"),
        (
            {"kind": "purchase", "amount": 1.0, "username": "A49", "unique_id": 3, "item_id": "<b>"},
            "item_id is not a plausible item code",
        ),
        (
            {"kind": "purchase", "amount": 1.0, "username": "A49", "unique_id": 3, "item_id": None},
            "item_id is not a plausible item code",
        ),
    ],
)
async def test_signed_but_invalid_bodies_are_quarantined_once(
    receiver: Receiver, fields: dict[str, object], reason: str
) -> None:
    body = signed_body(fields, SECRET)
    assert await receiver.post(body) == (200, {"status": "quarantined"})
    assert await receiver.post(body) == (200, {"status": "quarantined"})
    assert await receiver.events() == []
    quarantined = await _quarantined(receiver)
    assert len(quarantined) == 1
    assert quarantined[0][0] == reason
    rows = await receiver.outbox_rows()
    assert len(rows) == 1
    assert rows[0][0] == "channel:audit"
    assert rows[0][1].startswith("quarantine:")
    row = await receiver.db.fetchone("SELECT deliveries, body FROM webhook_quarantine")
    assert row is not None
    assert row["deliveries"] == 2
    assert json.loads(str(row["body"])) == body  # stored raw
    embeds = str((await receiver.db.fetchone("SELECT embeds FROM notification_outbox"))[0])
    assert body["signature"] not in embeds


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "json"]
)
async def test_wrong_content_type_is_415(receiver: Receiver, content_type: str | None) -> None:
    status, body = await receiver.post(purchase(1), content_type=content_type)
    assert status == 415
    assert "error" in body
    assert await receiver.events() == []


async def test_json_with_charset_is_accepted(receiver: Receiver) -> None:
    assert (await receiver.post(purchase(1), content_type="application/json; charset=utf-8"))[0] == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{",
        b'{"a": NaN}',
        b'{"amount": Infinity, "signature": "x"}',
        b"\xff\xfe{}",
        b'{"signature": "a", "signature": "b"}',
    ],
)
async def test_not_json_is_400(receiver: Receiver, raw: bytes) -> None:
    status, body = await receiver.post(raw)
    assert status == 400
    assert body == {"error": "body is not valid JSON"}


@pytest.mark.parametrize("raw", [b"[]", b"1", b'"x"', b"null", b"[{}]"])
async def test_not_an_object_is_400(receiver: Receiver, raw: bytes) -> None:
    assert await receiver.post(raw) == (400, {"error": "body must be a JSON object"})


@pytest.mark.parametrize("signature", [None, 1, ["x"], {"a": 1}])
async def test_unsigned_is_400(receiver: Receiver, signature: object) -> None:
    body = {k: v for k, v in purchase(1).items() if k != "signature"}
    if signature is not None:
        body["signature"] = signature
    status, answer = await receiver.post(body)
    assert status == 400
    assert "unsigned" in answer["error"]


async def test_oversize_body_is_413(receiver: Receiver) -> None:
    big = purchase(1)
    big["padding"] = "x" * (64 * 1024)
    assert (await receiver.post(big))[0] == 413

    async def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(70):
            yield b"x" * 1024

    async with receiver.session.post(receiver.url, data=chunks(), headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413
    assert await receiver.events() == []


async def test_body_at_the_limit_is_read(receiver: Receiver) -> None:
    body = json.dumps(purchase(1)).encode()
    padded = body + b" " * (64 * 1024 - len(body))
    assert (await receiver.post(padded))[0] == 200


async def test_other_methods_are_405(receiver: Receiver) -> None:
    async with receiver.session.get(receiver.url) as resp:
        assert resp.status == 405


async def test_database_failure_is_503_and_the_retry_succeeds(db: Database, receiver: Receiver) -> None:
    async with aiosqlite.connect(db.path) as other:
        await other.execute("ALTER TABLE webhook_events RENAME TO webhook_events_away")
        await other.commit()
    status, body = await receiver.post(purchase(1))
    assert status == 503
    assert "retry" in body["error"]
    assert await receiver.outbox_rows() == []  # nothing half-done (the events table is away)
    async with aiosqlite.connect(db.path) as other:
        await other.execute("ALTER TABLE webhook_events_away RENAME TO webhook_events")
        await other.commit()
    assert await receiver.post(purchase(1)) == (200, {"status": "accepted"})
    assert await receiver.outbox_rows() == [("channel:purchase", "webhook:purchase:1")]


async def test_a_full_database_is_503_reported_and_leaves_no_false_gap_then_recovers(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer's connection may not grow the file (``max_page_count``: SQLite's own "database or disk is
    full", as on a full disk). Events are refused with 503 (Neverlose sends them again), the store reports the
    fault (``/healthz``), a gap seen by a batch that could not be written is not logged; once there is room
    again the events are stored, the gap they really leave is logged once, and filled."""
    caplog.set_level(logging.INFO)

    def cap(conn: sqlite3.Connection) -> None:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await receiver.store.transaction(cap)
    accepted: list[int] = []
    uid = 0
    while uid < 200:  # the last page's free room first
        uid += 1
        status, body = await receiver.post(purchase(uid, username="A" * 32))
        if status != 200:
            break
        accepted.append(uid)
    assert (status, body) == (503, {"error": "temporarily unable to store the event; retry later"})
    full = uid
    assert receiver.store.write_fault == "OperationalError: database or disk is full"
    assert (await receiver.post(purchase(full + 2)))[0] == 503  # after a gap: the transaction path, refused
    assert not [r for r in caplog.records if "sequence gap" in r.getMessage()]

    await receiver.store.transaction(lambda conn: conn.execute("PRAGMA max_page_count = 1000000"))
    assert receiver.store.write_fault is None
    assert await receiver.post(purchase(full + 2)) == (200, {"status": "accepted"})
    gaps = [r.getMessage() for r in caplog.records if "sequence gap" in r.getMessage()]
    assert gaps == [f"webhook sequence gap kind=purchase first_missing={full} last_missing={full + 1}"]
    for late in (full, full + 1):
        assert await receiver.post(purchase(late)) == (200, {"status": "accepted"})
    assert len([r for r in caplog.records if "gap filled" in r.getMessage()]) == 2
    assert await receiver.events() == [("purchase", n) for n in [*accepted, full + 2, full, full + 1]]
    keys = [key for _, key in await receiver.outbox_rows()]
    assert keys == [f"webhook:purchase:{n}" for n in [*accepted, full + 2, full, full + 1]]


async def test_closed_store_is_503(receiver: Receiver) -> None:
    await receiver.store.close()
    assert (await receiver.post(purchase(1)))[0] == 503


@pytest.mark.parametrize("content_type", [";0*", "application/json;0*", "application/json; ;=", "=;", "\t;"])
async def test_malformed_content_type_is_never_a_5xx(receiver: Receiver, content_type: str) -> None:
    """Found by the fuzz test: aiohttp's own Content-Type parsing raised on ``;0*`` (a 500)."""
    status, _ = await receiver.post(purchase(1), content_type=content_type)
    expected = 200 if content_type.lower().startswith("application/json") else 415
    assert status == expected


async def test_a_signature_with_a_lone_surrogate_is_401_not_a_5xx(receiver: Receiver) -> None:
    body = dict(purchase(14), signature="\ud800" * 64)  # JSON text "\ud800…": valid JSON, not valid UTF-8
    assert (await receiver.post(body))[0] == 401
    assert await receiver.events() == []
