-- 0012: linking by Neverlose user id (OpenID Connect docs of 17 Mar 2026) and the id_token nonce.
-- Touches the linking tables only. Existing links keep working by Discord id and login; they gain the
-- user id (and registration date) the next time Neverlose confirms the account in a sign-in.

-- The Neverlose user id ('sub' / 'cc.neverlose.user_id'): the link's identity. A login can change, a user id
-- does not. NULL for links made before this migration until Neverlose confirms them again.
ALTER TABLE account_links ADD COLUMN neverlose_user_id INTEGER;
CREATE UNIQUE INDEX account_links_user_id ON account_links (neverlose_user_id) WHERE neverlose_user_id IS NOT NULL;
-- 'cc.neverlose.reg_date' (YYYY-MM-DD) as Neverlose last reported it, NULL when not reported.
ALTER TABLE account_links ADD COLUMN neverlose_reg_date TEXT;
-- When Neverlose last confirmed the login: of two links carrying the same login (one of them renamed since),
-- lookups by login take the most recently confirmed one.
ALTER TABLE account_links ADD COLUMN login_seen_at TEXT;
UPDATE account_links SET login_seen_at = linked_at;

-- The SHA-256 of the nonce sent with the authorization request; the id_token must carry that nonce.
-- NULL for attempts started before this migration (they are refused; the member runs /link start again).
ALTER TABLE oauth_states ADD COLUMN nonce_hash TEXT;
