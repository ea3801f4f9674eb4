-- 0009: orders (issue 14). One row per order, a state machine moved only by guarded updates
-- (UPDATE ... WHERE state = ?), and an append-only history of its transitions with time and actor.
-- Money is exact decimal text, never REAL. Times are ISO 8601 UTC with microseconds and 'Z'.
CREATE TABLE orders (
    id                 TEXT    PRIMARY KEY,                 -- unguessable, URL-safe (128 bits)
    token_hash         TEXT    UNIQUE,                      -- sha256 of the nl_purchase token; NULL for /buy
    form_token         TEXT    NOT NULL,                    -- per-order CSRF token of the order page's forms
    login              TEXT    NOT NULL,
    email              TEXT,                                -- from the token; NULL for /buy orders
    product_key        TEXT    NOT NULL,                    -- cs2-30 ... or marketplace
    nle                TEXT,                                -- marketplace only: NLE to transfer
    currency           TEXT,                                -- the order's currency (see docs/checkout.md)
    method             TEXT    CHECK (method IS NULL OR method IN ('manual', 'cryptopay')),
    amount             TEXT,                                -- charged, in currency, set with the method
    nle_cost           TEXT    NOT NULL,                    -- what fulfilment costs the reseller in NLE
    state              TEXT    NOT NULL CHECK (state IN ('awaiting_payment', 'paid', 'fulfilling', 'delivered',
                                   'expired', 'cancelled', 'needs_attention', 'refunded')),
    check_status       TEXT    NOT NULL DEFAULT 'pending' CHECK (check_status IN ('pending', 'ok', 'blocked')),
    check_reason       TEXT,                                -- why it is blocked (code, see bot/orders/prechecks.py)
    payment_reference  TEXT,
    payment_claimed_at TEXT,
    claim_reference    TEXT,
    paid_by            INTEGER,                             -- Discord id of the staff member who confirmed
    fulfil_attempt     INTEGER NOT NULL DEFAULT 0 CHECK (fulfil_attempt >= 0),
    request_id         TEXT,                                -- spending journal request id of the attempt
    auto_retry         INTEGER NOT NULL DEFAULT 0 CHECK (auto_retry IN (0, 1)),
    last_error         TEXT,
    discord_user_id    INTEGER,
    seq                INTEGER NOT NULL DEFAULT 0,          -- number of the last transition
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    expires_at         TEXT    NOT NULL
) STRICT;

CREATE INDEX orders_by_state ON orders (state, updated_at);
CREATE INDEX orders_by_login ON orders (login COLLATE NOCASE, created_at);
CREATE INDEX orders_by_created ON orders (created_at);
CREATE INDEX orders_by_discord_user ON orders (discord_user_id, created_at) WHERE discord_user_id IS NOT NULL;

CREATE TABLE order_transitions (
    order_id   TEXT    NOT NULL REFERENCES orders (id),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    from_state TEXT,                                        -- NULL for the creation
    to_state   TEXT    NOT NULL,
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    note       TEXT,
    PRIMARY KEY (order_id, seq)
) STRICT;
