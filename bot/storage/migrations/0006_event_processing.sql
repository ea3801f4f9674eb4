-- 0006: webhook events are committed first (hot path) and fanned out later by a background processor.
-- processed_at: when the fan-out (event hooks: outbox rows, receipts, role grants) committed; NULL = waiting.
-- fanout_attempts / fanout_error: failed fan-out attempts so far and the last error (exception type).
-- fanout_failed_at: the fan-out was given up after too many failures (reported to the audit channel).
ALTER TABLE webhook_events ADD COLUMN processed_at TEXT;
ALTER TABLE webhook_events ADD COLUMN fanout_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_events ADD COLUMN fanout_error TEXT;
ALTER TABLE webhook_events ADD COLUMN fanout_failed_at TEXT;
ALTER TABLE webhook_quarantine ADD COLUMN processed_at TEXT;
ALTER TABLE webhook_quarantine ADD COLUMN fanout_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_quarantine ADD COLUMN fanout_error TEXT;
ALTER TABLE webhook_quarantine ADD COLUMN fanout_failed_at TEXT;
-- Up to 0005 the hooks ran in the transaction that stored the row, so every existing row is already fanned out.
UPDATE webhook_events SET processed_at = received_at;
UPDATE webhook_quarantine SET processed_at = received_at;
CREATE INDEX webhook_events_unprocessed ON webhook_events (id)
    WHERE processed_at IS NULL AND fanout_failed_at IS NULL;
CREATE INDEX webhook_quarantine_unprocessed ON webhook_quarantine (id)
    WHERE processed_at IS NULL AND fanout_failed_at IS NULL;
