-- 0007: a webhook event's announcement is queued as a reference to the event (event_id) and rendered when it
-- is delivered: the ingest transaction then writes a small row and renders nothing. Such a row carries no
-- embeds of its own ('[]'); every other row keeps its rendered embeds and a NULL event_id.
ALTER TABLE notification_outbox ADD COLUMN event_id INTEGER REFERENCES webhook_events (id)
    CHECK (event_id IS NULL OR embeds = '[]');
