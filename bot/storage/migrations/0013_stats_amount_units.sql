-- 0013: exact amounts as whole numbers for /stats (issue 18). Each money column the figures sum gets two
-- columns beside it: its value in 10^-8 units (an INTEGER) and its number of decimal places, both NULL
-- when the text is not plain digits[.digits] with at most 10 integer digits and 8 decimals (the same rule
-- and arithmetic as bot/stats/sums.py, which sums such text with SQLite's exact 64-bit integer SUM; the
-- rest is summed in Python). Triggers keep them in step with every insert and every change of the amount,
-- whatever code writes it, so /stats adds integers read from an index instead of parsing text per row.
-- Nothing is rounded or summed ahead: the stored amount stays the truth, these columns only restate it.

ALTER TABLE orders ADD COLUMN amount_units INTEGER;
ALTER TABLE orders ADD COLUMN amount_places INTEGER;
UPDATE orders SET
        amount_units = CASE WHEN (amount GLOB '[0-9]*' AND amount NOT GLOB '*[^0-9.]*' AND amount NOT GLOB '*.*.*' AND ((instr(amount, '.') = 0 AND length(amount) <= 10) OR (instr(amount, '.') BETWEEN 2 AND 11 AND length(amount) - instr(amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(amount, '.') = 0 THEN CAST(amount AS INTEGER) * 100000000 ELSE CAST(substr(amount, 1, instr(amount, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(amount, instr(amount, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_places = CASE WHEN (amount GLOB '[0-9]*' AND amount NOT GLOB '*[^0-9.]*' AND amount NOT GLOB '*.*.*' AND ((instr(amount, '.') = 0 AND length(amount) <= 10) OR (instr(amount, '.') BETWEEN 2 AND 11 AND length(amount) - instr(amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(amount, '.') = 0 THEN 0 ELSE length(amount) - instr(amount, '.') END) END;
CREATE TRIGGER orders_amount_units_on_insert AFTER INSERT ON orders BEGIN
    UPDATE orders SET
        amount_units = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN CAST(NEW.amount AS INTEGER) * 100000000 ELSE CAST(substr(NEW.amount, 1, instr(NEW.amount, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(NEW.amount, instr(NEW.amount, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_places = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN 0 ELSE length(NEW.amount) - instr(NEW.amount, '.') END) END
    WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER orders_amount_units_on_update AFTER UPDATE OF amount ON orders BEGIN
    UPDATE orders SET
        amount_units = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN CAST(NEW.amount AS INTEGER) * 100000000 ELSE CAST(substr(NEW.amount, 1, instr(NEW.amount, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(NEW.amount, instr(NEW.amount, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_places = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN 0 ELSE length(NEW.amount) - instr(NEW.amount, '.') END) END
    WHERE rowid = NEW.rowid;
END;

ALTER TABLE operations ADD COLUMN amount_nle_units INTEGER;
ALTER TABLE operations ADD COLUMN amount_nle_places INTEGER;
UPDATE operations SET
        amount_nle_units = CASE WHEN (amount_nle GLOB '[0-9]*' AND amount_nle NOT GLOB '*[^0-9.]*' AND amount_nle NOT GLOB '*.*.*' AND ((instr(amount_nle, '.') = 0 AND length(amount_nle) <= 10) OR (instr(amount_nle, '.') BETWEEN 2 AND 11 AND length(amount_nle) - instr(amount_nle, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(amount_nle, '.') = 0 THEN CAST(amount_nle AS INTEGER) * 100000000 ELSE CAST(substr(amount_nle, 1, instr(amount_nle, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(amount_nle, instr(amount_nle, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_nle_places = CASE WHEN (amount_nle GLOB '[0-9]*' AND amount_nle NOT GLOB '*[^0-9.]*' AND amount_nle NOT GLOB '*.*.*' AND ((instr(amount_nle, '.') = 0 AND length(amount_nle) <= 10) OR (instr(amount_nle, '.') BETWEEN 2 AND 11 AND length(amount_nle) - instr(amount_nle, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(amount_nle, '.') = 0 THEN 0 ELSE length(amount_nle) - instr(amount_nle, '.') END) END;
CREATE TRIGGER operations_amount_nle_units_on_insert AFTER INSERT ON operations BEGIN
    UPDATE operations SET
        amount_nle_units = CASE WHEN (NEW.amount_nle GLOB '[0-9]*' AND NEW.amount_nle NOT GLOB '*[^0-9.]*' AND NEW.amount_nle NOT GLOB '*.*.*' AND ((instr(NEW.amount_nle, '.') = 0 AND length(NEW.amount_nle) <= 10) OR (instr(NEW.amount_nle, '.') BETWEEN 2 AND 11 AND length(NEW.amount_nle) - instr(NEW.amount_nle, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount_nle, '.') = 0 THEN CAST(NEW.amount_nle AS INTEGER) * 100000000 ELSE CAST(substr(NEW.amount_nle, 1, instr(NEW.amount_nle, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(NEW.amount_nle, instr(NEW.amount_nle, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_nle_places = CASE WHEN (NEW.amount_nle GLOB '[0-9]*' AND NEW.amount_nle NOT GLOB '*[^0-9.]*' AND NEW.amount_nle NOT GLOB '*.*.*' AND ((instr(NEW.amount_nle, '.') = 0 AND length(NEW.amount_nle) <= 10) OR (instr(NEW.amount_nle, '.') BETWEEN 2 AND 11 AND length(NEW.amount_nle) - instr(NEW.amount_nle, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount_nle, '.') = 0 THEN 0 ELSE length(NEW.amount_nle) - instr(NEW.amount_nle, '.') END) END
    WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER operations_amount_nle_units_on_update AFTER UPDATE OF amount_nle ON operations BEGIN
    UPDATE operations SET
        amount_nle_units = CASE WHEN (NEW.amount_nle GLOB '[0-9]*' AND NEW.amount_nle NOT GLOB '*[^0-9.]*' AND NEW.amount_nle NOT GLOB '*.*.*' AND ((instr(NEW.amount_nle, '.') = 0 AND length(NEW.amount_nle) <= 10) OR (instr(NEW.amount_nle, '.') BETWEEN 2 AND 11 AND length(NEW.amount_nle) - instr(NEW.amount_nle, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount_nle, '.') = 0 THEN CAST(NEW.amount_nle AS INTEGER) * 100000000 ELSE CAST(substr(NEW.amount_nle, 1, instr(NEW.amount_nle, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(NEW.amount_nle, instr(NEW.amount_nle, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_nle_places = CASE WHEN (NEW.amount_nle GLOB '[0-9]*' AND NEW.amount_nle NOT GLOB '*[^0-9.]*' AND NEW.amount_nle NOT GLOB '*.*.*' AND ((instr(NEW.amount_nle, '.') = 0 AND length(NEW.amount_nle) <= 10) OR (instr(NEW.amount_nle, '.') BETWEEN 2 AND 11 AND length(NEW.amount_nle) - instr(NEW.amount_nle, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount_nle, '.') = 0 THEN 0 ELSE length(NEW.amount_nle) - instr(NEW.amount_nle, '.') END) END
    WHERE rowid = NEW.rowid;
END;

ALTER TABLE webhook_events ADD COLUMN amount_units INTEGER;
ALTER TABLE webhook_events ADD COLUMN amount_places INTEGER;
UPDATE webhook_events SET
        amount_units = CASE WHEN (amount GLOB '[0-9]*' AND amount NOT GLOB '*[^0-9.]*' AND amount NOT GLOB '*.*.*' AND ((instr(amount, '.') = 0 AND length(amount) <= 10) OR (instr(amount, '.') BETWEEN 2 AND 11 AND length(amount) - instr(amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(amount, '.') = 0 THEN CAST(amount AS INTEGER) * 100000000 ELSE CAST(substr(amount, 1, instr(amount, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(amount, instr(amount, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_places = CASE WHEN (amount GLOB '[0-9]*' AND amount NOT GLOB '*[^0-9.]*' AND amount NOT GLOB '*.*.*' AND ((instr(amount, '.') = 0 AND length(amount) <= 10) OR (instr(amount, '.') BETWEEN 2 AND 11 AND length(amount) - instr(amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(amount, '.') = 0 THEN 0 ELSE length(amount) - instr(amount, '.') END) END;
CREATE TRIGGER webhook_events_amount_units_on_insert AFTER INSERT ON webhook_events BEGIN
    UPDATE webhook_events SET
        amount_units = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN CAST(NEW.amount AS INTEGER) * 100000000 ELSE CAST(substr(NEW.amount, 1, instr(NEW.amount, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(NEW.amount, instr(NEW.amount, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_places = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN 0 ELSE length(NEW.amount) - instr(NEW.amount, '.') END) END
    WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER webhook_events_amount_units_on_update AFTER UPDATE OF amount ON webhook_events BEGIN
    UPDATE webhook_events SET
        amount_units = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN CAST(NEW.amount AS INTEGER) * 100000000 ELSE CAST(substr(NEW.amount, 1, instr(NEW.amount, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(NEW.amount, instr(NEW.amount, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_places = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN 0 ELSE length(NEW.amount) - instr(NEW.amount, '.') END) END
    WHERE rowid = NEW.rowid;
END;

-- Covering indexes: the figures of a period read these, never the rows (which carry e-mails, tokens, the
-- request's JSON, the webhook body). The paid orders' history joins orders through orders_stats (by id).
CREATE INDEX orders_stats ON orders (id, state, currency, product_key, method, paid_by, login, amount_units,
    amount_places, amount);
DROP INDEX orders_by_request;
CREATE INDEX orders_by_request ON orders (request_id, id, product_key, method, currency) WHERE request_id IS NOT NULL;
DROP INDEX operations_by_created;
CREATE INDEX operations_by_created ON operations (created_at, status, amount_nle_units, amount_nle_places,
    amount_nle, requested_by, request_id);
DROP INDEX webhook_events_received;
CREATE INDEX webhook_events_received ON webhook_events (received_at, kind, amount_units, amount_places, amount);
