-- 0003: Neverlose market webhooks and the notifications outbox.
-- webhook_events: every verified, strictly valid event, once per (kind, unique_id).
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    unique_id   INTEGER NOT NULL CHECK (unique_id > 0),
    username    TEXT NOT NULL,
    amount      TEXT NOT NULL,
    item_id     TEXT,
    received_at TEXT NOT NULL,
    remote      TEXT,
    body        TEXT NOT NULL,
    UNIQUE (kind, unique_id)
) STRICT;
CREATE INDEX webhook_events_received ON webhook_events (received_at);

-- Validly signed bodies that failed strict validation (unknown kind, extra/missing fields, wrong types):
-- kept raw, once per distinct body, never acted upon.
CREATE TABLE webhook_quarantine (
    id          INTEGER PRIMARY KEY,
    body_sha256 TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    kind        TEXT,
    remote      TEXT,
    received_at TEXT NOT NULL,
    deliveries  INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX webhook_quarantine_received ON webhook_quarantine (received_at);

-- Missing unique_id ranges per kind (possible missed events); shrunk when a late event fills them.
CREATE TABLE webhook_gaps (
    kind          TEXT NOT NULL,
    first_missing INTEGER NOT NULL,
    last_missing  INTEGER NOT NULL,
    detected_at   TEXT NOT NULL,
    PRIMARY KEY (kind, first_missing),
    CHECK (first_missing <= last_missing)
) STRICT;

-- Requests refused for a bad signature, counted per UTC hour ('YYYY-MM-DDTHH').
CREATE TABLE webhook_rejections (
    hour  TEXT PRIMARY KEY,
    count INTEGER NOT NULL
) STRICT;

-- Everything the bot posts outside interaction responses. AUTOINCREMENT: ids (and so message nonces
-- derived from them) are never reused. A row is claimed into a message (nonce) before it is sent.
CREATE TABLE notification_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key   TEXT NOT NULL UNIQUE,
    target       TEXT NOT NULL,
    content      TEXT,
    embeds       TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'undeliverable')),
    nonce        TEXT,
    message_id   INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at  TEXT
) STRICT;
CREATE INDEX notification_outbox_pending ON notification_outbox (id) WHERE state = 'pending';
CREATE INDEX notification_outbox_nonce ON notification_outbox (nonce) WHERE nonce IS NOT NULL;
