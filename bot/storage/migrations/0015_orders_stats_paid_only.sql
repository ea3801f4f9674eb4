-- 0015: orders_stats (0013) holds only the orders that can have been paid. It is led by the order's random id,
-- so every new order used to add an entry on a random leaf of it (and 0013's insert trigger rewrote that entry):
-- one more page to write to the WAL at each COMMIT and again at the checkpoint, per checkout. A new order is
-- always awaiting_payment and no order ever moves back into that state (bot/orders/models.py TRANSITIONS), so
-- every order with a paid transition is outside it: /stats reads the same orders through the index (its queries
-- name the same condition, which lets SQLite use a partial index), and an order enters it when it leaves
-- awaiting_payment (paid, expired or cancelled), in the transaction of that change.

DROP INDEX orders_stats;
CREATE INDEX orders_stats ON orders (id, state, currency, product_key, method, paid_by, login, amount_units,
    amount_places, amount) WHERE state <> 'awaiting_payment';
