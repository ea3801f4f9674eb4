-- 0010: the Crypto Pay payment method (issue 15).
-- cryptopay_invoices: one row per order paid with Crypto Pay, written BEFORE createInvoice is sent (state
-- 'creating': the intent is durable, so an uncertain outcome is looked up by payload instead of creating a
-- second invoice). Money is exact decimal text; times ISO 8601 UTC.
CREATE TABLE cryptopay_invoices (
    order_id       TEXT    PRIMARY KEY,
    invoice_id     INTEGER UNIQUE,                  -- NULL while the createInvoice outcome is unknown
    state          TEXT    NOT NULL CHECK (state IN ('creating', 'active', 'paid', 'expired', 'cancelled')),
    amount         TEXT    NOT NULL,                -- what the invoice asks, in fiat
    fiat           TEXT    NOT NULL,
    pay_url        TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    paid_at        TEXT,
    expired_at     TEXT,
    late           INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),  -- paid after the order withdrew it
    payer_details  TEXT,                            -- JSON object of strings (asset, amount, rates): for refunds
    confirmed_at   TEXT                             -- the order service acknowledged the payment (NULL: re-drive)
) STRICT;

CREATE INDEX cryptopay_invoices_open ON cryptopay_invoices (state) WHERE state IN ('creating', 'active');
CREATE INDEX cryptopay_invoices_unconfirmed ON cryptopay_invoices (state) WHERE state = 'paid' AND confirmed_at IS NULL;

-- cryptopay_updates: every signed update (webhook) or paid invoice seen by the poller, stored once per invoice
-- (Crypto Pay documents update_id as not unique), with the verdict given to it.
CREATE TABLE cryptopay_updates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key   TEXT    NOT NULL UNIQUE,           -- 'invoice:<id>', or 'body:<sha256>' for a body without one
    invoice_id   INTEGER,
    order_id     TEXT,
    source       TEXT    NOT NULL CHECK (source IN ('webhook', 'poll')),
    verdict      TEXT    NOT NULL CHECK (verdict IN ('accepted', 'late', 'quarantined')),
    reason       TEXT,
    body         TEXT    NOT NULL,
    remote       TEXT,
    received_at  TEXT    NOT NULL
) STRICT;
