-- 0002: the Market API spending journal. One row per mutating call (gift-product, give-for-free,
-- transfer-money), committed BEFORE the first HTTP attempt and updated after each attempt. The request id
-- is unique forever; retries reuse it. Money is stored as decimal text (two places), never as REAL.
CREATE TABLE operations (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id         TEXT    NOT NULL UNIQUE
                       CHECK (length(request_id) BETWEEN 1 AND 80 AND request_id NOT GLOB '*[^A-Za-z0-9._-]*'),
    method             TEXT    NOT NULL,
    params             TEXT    NOT NULL,              -- JSON object of the API fields (amount as text)
    username           TEXT,                          -- copied from params for look-ups
    requested_by       INTEGER,                       -- Discord user id, NULL for the system
    guild_id           INTEGER,
    amount_nle         TEXT,                          -- price or amount spent, decimal text
    status             TEXT    NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'succeeded', 'failed', 'unknown')),
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    result             TEXT,                          -- the API's success answer (JSON text)
    error              TEXT,                          -- the API's error text or the last transport problem
    confirmed_on_retry INTEGER NOT NULL DEFAULT 0 CHECK (confirmed_on_retry IN (0, 1)),
    created_at         TEXT    NOT NULL,              -- ISO 8601 UTC, microseconds, 'Z'
    updated_at         TEXT    NOT NULL
) STRICT;

CREATE INDEX operations_unresolved ON operations (status) WHERE status IN ('pending', 'unknown');
CREATE INDEX operations_by_requester ON operations (requested_by, created_at);
CREATE INDEX operations_by_username ON operations (username COLLATE NOCASE, created_at);
CREATE INDEX operations_by_created ON operations (created_at);
