-- 0001: foundation. Guild-level configuration set from Discord (overrides .env defaults) and a key/value
-- table for facts about this install (e.g. its request-id prefix).
CREATE TABLE install_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE guild_config (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_by INTEGER,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
