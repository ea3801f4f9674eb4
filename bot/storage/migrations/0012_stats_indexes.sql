-- 0012: indexes for /stats (issue 18). Indexes only: no table or row changes, so it applies to an existing
-- database as it is (building them reads each table once).

-- Orders paid in a period: the first transition to 'paid', by time (the WHERE matches the one of
-- bot/stats/figures.py, so the planner can use this partial index for short periods).
CREATE INDEX order_transitions_paid ON order_transitions (at, order_id)
    WHERE to_state = 'paid' AND from_state IN ('awaiting_payment', 'expired');

-- What an order delivery cost: journal operations are joined to their order by request id (before this
-- index SQLite built a temporary index over every order for each such query).
CREATE INDEX orders_by_request ON orders (request_id) WHERE request_id IS NOT NULL;

-- Covering indexes by time: a period's spending and webhook figures read the index only, never the rows
-- (which carry the request's JSON and the webhook body). They replace the plain time indexes, whose
-- queries (the journal's list, the webhook counts) use the wider index the same way.
DROP INDEX operations_by_created;
CREATE INDEX operations_by_created ON operations (created_at, status, amount_nle, requested_by, request_id);
DROP INDEX webhook_events_received;
CREATE INDEX webhook_events_received ON webhook_events (received_at, kind, amount);
