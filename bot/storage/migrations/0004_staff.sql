-- 0004: staff operations. The audit trail of every spending action, its outcome and every refusal
-- (posted to the audit channel through the outbox) and the two-person approvals of large transfers.
CREATE TABLE staff_audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at   TEXT    NOT NULL,              -- ISO 8601 UTC, e.g. 2025-01-31T12:00:00.000Z
    guild_id     INTEGER,
    staff_id     INTEGER NOT NULL,              -- Discord user who acted (or tried to)
    action       TEXT    NOT NULL,              -- gift | give | transfer
    event        TEXT    NOT NULL,              -- requested | succeeded | failed | unknown | refused | ...
    username     TEXT,                          -- Neverlose recipient
    item_code    TEXT,
    detail       TEXT    NOT NULL DEFAULT '',   -- "CS2, 30 days", "item E3yugw", ...
    amount_nle   TEXT,                          -- Decimal as text
    request_id   TEXT,
    operation_id INTEGER,
    result       TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX staff_audit_by_time ON staff_audit (created_at);
CREATE INDEX staff_audit_by_staff ON staff_audit (staff_id, created_at);
CREATE INDEX staff_audit_by_username ON staff_audit (username COLLATE NOCASE, created_at);

CREATE TABLE staff_approvals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    guild_id     INTEGER,
    requested_by INTEGER NOT NULL,
    username     TEXT    NOT NULL,
    amount_nle   TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    decided_by   INTEGER,
    decided_at   TEXT,
    operation_id INTEGER,
    channel_id   INTEGER,
    message_id   INTEGER
) STRICT;
CREATE INDEX staff_approvals_pending ON staff_approvals (status, expires_at);
