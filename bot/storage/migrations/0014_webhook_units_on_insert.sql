-- 0014: the webhook events' stored units (0013) without rewriting each new row. The ingest path inserts
-- amount_units and amount_places itself (stored_units in bot/stats/sums.py: the same rule and arithmetic), so
-- the insert trigger runs its UPDATE only when the inserted pair does not spell the amount exactly: the pair is
-- the text path's value when, and only when, the amount is its canonical text (no leading zero, exactly
-- amount_places decimals, no digit below them in the units). The columns hold what 0013 gave them whatever code
-- inserts (left out, wrong, or an amount in another spelling such as 007.10: the UPDATE then runs as before; both
-- left NULL for an amount that is not well formed: nothing to correct), and
-- each stored webhook event costs one UPDATE of its row and of its covering index entry less. The trigger on a
-- change of the amount is 0013's.

DROP TRIGGER webhook_events_amount_units_on_insert;
CREATE TRIGGER webhook_events_amount_units_on_insert AFTER INSERT ON webhook_events
WHEN CASE WHEN NEW.amount_units IS NULL AND NEW.amount_places IS NULL THEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8)))
    ELSE NOT coalesce(
        NEW.amount_places BETWEEN 0 AND 8
        AND NEW.amount_units BETWEEN 0 AND 999999999999999999
        AND NEW.amount_units % CAST(substr('100000000', 1, 9 - NEW.amount_places) AS INTEGER) = 0
        AND NEW.amount IS (CASE WHEN NEW.amount_places = 0 THEN printf('%d', NEW.amount_units / 100000000)
            ELSE printf('%d.%0*d', NEW.amount_units / 100000000, NEW.amount_places,
                        NEW.amount_units % 100000000 / CAST(substr('100000000', 1, 9 - NEW.amount_places) AS INTEGER)) END),
        0) END
BEGIN
    UPDATE webhook_events SET
        amount_units = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN CAST(NEW.amount AS INTEGER) * 100000000 ELSE CAST(substr(NEW.amount, 1, instr(NEW.amount, '.') - 1) AS INTEGER) * 100000000 + CAST(substr(substr(NEW.amount, instr(NEW.amount, '.') + 1) || '00000000', 1, 8) AS INTEGER) END) END,
        amount_places = CASE WHEN (NEW.amount GLOB '[0-9]*' AND NEW.amount NOT GLOB '*[^0-9.]*' AND NEW.amount NOT GLOB '*.*.*' AND ((instr(NEW.amount, '.') = 0 AND length(NEW.amount) <= 10) OR (instr(NEW.amount, '.') BETWEEN 2 AND 11 AND length(NEW.amount) - instr(NEW.amount, '.') BETWEEN 1 AND 8))) THEN (CASE WHEN instr(NEW.amount, '.') = 0 THEN 0 ELSE length(NEW.amount) - instr(NEW.amount, '.') END) END
    WHERE rowid = NEW.rowid;
END;
