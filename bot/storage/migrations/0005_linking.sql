-- 0005: linking Discord accounts to Neverlose accounts (OAuth 2.0 + OpenID Connect with PKCE),
-- and the item/product -> Discord role mappings used for linked customers.
-- Times are UTC ISO-8601 text written by the application ('YYYY-MM-DDTHH:MM:SS.ffffffZ').

-- One-time start URLs handed out by /link (only the SHA-256 of the token is stored).
CREATE TABLE link_start_tokens (
    token_hash      TEXT PRIMARY KEY,
    discord_user_id INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
) STRICT;
CREATE INDEX link_start_tokens_user ON link_start_tokens (discord_user_id);

-- Pending authorizations: state (hashed) + PKCE verifier, bound to a Discord user and a browser cookie.
CREATE TABLE oauth_states (
    state_hash      TEXT PRIMARY KEY,
    discord_user_id INTEGER NOT NULL,
    browser_id      TEXT NOT NULL,
    code_verifier   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
) STRICT;

-- Discord account <-> Neverlose account: one each way. Access tokens are never stored.
CREATE TABLE account_links (
    discord_user_id INTEGER PRIMARY KEY,
    neverlose_sub   TEXT NOT NULL UNIQUE,
    neverlose_login TEXT NOT NULL,
    linked_at       TEXT NOT NULL
) STRICT;
CREATE INDEX account_links_login ON account_links (neverlose_login COLLATE NOCASE);

-- Roles granted to linked members: kind 'item' keys are market item codes, kind 'product' keys are products.
CREATE TABLE role_mappings (
    guild_id   INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('item', 'product')),
    key        TEXT NOT NULL,
    role_id    INTEGER NOT NULL,
    created_by INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (guild_id, kind, key, role_id)
) STRICT;
