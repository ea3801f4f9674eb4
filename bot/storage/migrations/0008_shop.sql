-- 0008: the shop's price table (single source of truth for the push to Neverlose and for order pages) and
-- the shop's small key/value state (visibility as last set, last push, last error).
-- method '' = the price applies to every payment method; otherwise 'manual' or 'cryptopay'.
-- price is the exact decimal text (never a float): positive, at most 8 decimal places.
CREATE TABLE shop_prices (
    product_key TEXT NOT NULL,
    currency    TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    method      TEXT NOT NULL DEFAULT '' CHECK (method IN ('', 'manual', 'cryptopay')),
    price       TEXT NOT NULL,
    updated_by  INTEGER,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (product_key, currency, method)
);

CREATE TABLE shop_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
