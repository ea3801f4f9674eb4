"""Server-side state of a linking attempt, persisted in SQLite so a restart mid-flow does no harm.

Two short-lived, single-use records:

* a **start token**: the secret part of the start URL ``/link`` hands out; bound to a Discord user, valid
  10 minutes, used once. A new ``/link`` replaces the member's earlier unused tokens.
* a **pending authorization**: ``state``, the PKCE verifier and the OpenID ``nonce``, bound to the Discord
  user and to the browser (a random browser id carried in a signed cookie); valid 10 minutes, consumed by the
  first callback. The id_token must carry that nonce, so it is used once, like the state.

Only SHA-256 hashes of the start token, ``state`` and ``nonce`` are stored. The browser cookie is signed with HMAC
using a per-install random key kept in ``install_meta`` (never the Market secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.linking import pkce
from bot.storage import Database
from bot.storage.timestamps import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DEFAULT_TTL = timedelta(minutes=10)
PRUNE_AFTER = timedelta(days=1)
COOKIE_KEY_META = "linking.cookie_key"


def utc_now() -> datetime:
    return datetime.now(UTC)


def secret_digest(secret: str) -> str:
    """SHA-256 (hex) of a one-time secret: what the linking tables store instead of the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class SessionProblem(StrEnum):
    """Why a start token or a state was refused (also the ``reason=`` in log lines)."""

    START_UNKNOWN = "start_unknown"
    START_USED = "start_used"
    START_EXPIRED = "start_expired"
    STATE_MISSING = "state_missing"
    STATE_UNKNOWN = "state_unknown"
    STATE_REUSED = "state_reused"
    STATE_EXPIRED = "state_expired"
    BROWSER_MISMATCH = "browser_mismatch"


class SessionRejected(Exception):
    def __init__(self, problem: SessionProblem, *, discord_user_id: int | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.discord_user_id = discord_user_id


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """What the start route needs to redirect: the secret ``state`` and the PKCE challenge."""

    discord_user_id: int
    state: str
    code_challenge: str
    nonce: str


@dataclass(frozen=True, slots=True)
class ConsumedAuthorization:
    """What the callback needs once the state checked out (``nonce_hash`` is ``None`` for an attempt
    started before nonces were stored)."""

    discord_user_id: int
    code_verifier: str
    nonce_hash: str | None


class BrowserCookie:
    """Signs and verifies the browser-binding cookie value ``<browser id>.<HMAC-SHA256>``."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("cookie key must be at least 32 bytes")
        self._key = key

    def _signature(self, browser_id: str) -> str:
        mac = hmac.new(self._key, b"nlrb-link-browser:" + browser_id.encode("ascii"), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def new(self) -> tuple[str, str]:
        """A fresh ``(browser_id, cookie_value)``."""
        browser_id = secrets.token_urlsafe(24)
        return browser_id, f"{browser_id}.{self._signature(browser_id)}"

    def verify(self, value: str | None) -> str | None:
        """The browser id carried by a genuine cookie value, else ``None``."""
        if not value or value.count(".") != 1:
            return None
        browser_id, signature = value.split(".")
        if not browser_id or not browser_id.isascii():
            return None
        if not hmac.compare_digest(signature, self._signature(browser_id)):
            return None
        return browser_id


async def load_cookie_key(db: Database) -> bytes:
    """The install's cookie-signing key, created (32 random bytes) on first use."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT OR IGNORE INTO install_meta (key, value) VALUES (?, ?)",
            (COOKIE_KEY_META, secrets.token_hex(32)),
        )
        async with conn.execute("SELECT value FROM install_meta WHERE key = ?", (COOKIE_KEY_META,)) as cur:
            row = await cur.fetchone()
    if row is None:  # pragma: no cover - inserted just above
        raise RuntimeError("cookie key missing from install_meta")
    return bytes.fromhex(str(row["value"]))


class LinkSessions:
    """Repository over ``link_start_tokens`` and ``oauth_states``."""

    def __init__(self, db: Database, *, clock: Clock = utc_now, ttl: timedelta = DEFAULT_TTL) -> None:
        self._db = db
        self._clock = clock
        self.ttl = ttl

    # ------------------------------------------------------------------ start tokens
    async def issue_start_token(self, discord_user_id: int) -> str:
        """A new one-time start token for ``discord_user_id``; earlier unused ones stop working."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM link_start_tokens WHERE discord_user_id = ? AND used_at IS NULL",
                (discord_user_id,),
            )
            await conn.execute(
                "INSERT INTO link_start_tokens (token_hash, discord_user_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (secret_digest(token), discord_user_id, format_timestamp(now), format_timestamp(now + self.ttl)),
            )
        await self.prune()
        return token

    async def begin(self, start_token: str, browser_id: str) -> PendingAuthorization:
        """Use the start token once and create the pending authorization bound to ``browser_id``.

        Raises :class:`SessionRejected` (``start_unknown``, ``start_used``, ``start_expired``).
        """
        now = self._clock()
        state = pkce.new_state()
        verifier = pkce.new_verifier()
        nonce = pkce.new_state()
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT discord_user_id, expires_at, used_at FROM link_start_tokens WHERE token_hash = ?",
                (secret_digest(start_token),),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise SessionRejected(SessionProblem.START_UNKNOWN)
            user_id = int(row["discord_user_id"])
            if row["used_at"] is not None:
                raise SessionRejected(SessionProblem.START_USED, discord_user_id=user_id)
            if parse_timestamp(str(row["expires_at"])) <= now:
                raise SessionRejected(SessionProblem.START_EXPIRED, discord_user_id=user_id)
            await conn.execute(
                "UPDATE link_start_tokens SET used_at = ? WHERE token_hash = ?",
                (format_timestamp(now), secret_digest(start_token)),
            )
            await conn.execute(
                "INSERT INTO oauth_states "
                "(state_hash, discord_user_id, browser_id, code_verifier, nonce_hash, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    secret_digest(state),
                    user_id,
                    browser_id,
                    verifier,
                    secret_digest(nonce),
                    format_timestamp(now),
                    format_timestamp(now + self.ttl),
                ),
            )
        return PendingAuthorization(user_id, state, pkce.challenge_s256(verifier), nonce)

    # ------------------------------------------------------------------ state
    async def consume(self, state: str | None, browser_id: str | None) -> ConsumedAuthorization:
        """Check ``state`` (known, unused, unexpired, same browser) and use it up, whatever the outcome.

        Raises :class:`SessionRejected` (``state_missing``, ``state_unknown``, ``state_reused``,
        ``state_expired``, ``browser_mismatch``).
        """
        if not state:
            raise SessionRejected(SessionProblem.STATE_MISSING)
        now = self._clock()
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT discord_user_id, browser_id, code_verifier, nonce_hash, expires_at, used_at "
                "FROM oauth_states WHERE state_hash = ?",
                (secret_digest(state),),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise SessionRejected(SessionProblem.STATE_UNKNOWN)
            user_id = int(row["discord_user_id"])
            if row["used_at"] is not None:
                raise SessionRejected(SessionProblem.STATE_REUSED, discord_user_id=user_id)
            await conn.execute(
                "UPDATE oauth_states SET used_at = ? WHERE state_hash = ?",
                (format_timestamp(now), secret_digest(state)),
            )
            problem: SessionProblem | None = None
            if parse_timestamp(str(row["expires_at"])) <= now:
                problem = SessionProblem.STATE_EXPIRED
            elif browser_id is None or not hmac.compare_digest(str(row["browser_id"]), browser_id):
                problem = SessionProblem.BROWSER_MISMATCH
            verifier = str(row["code_verifier"])
            nonce_hash = None if row["nonce_hash"] is None else str(row["nonce_hash"])
        # The state is used up even when refused (committed above): it can never be tried again.
        if problem is not None:
            raise SessionRejected(problem, discord_user_id=user_id)
        return ConsumedAuthorization(user_id, verifier, nonce_hash)

    async def nonce_was_issued(self, nonce_hash: str) -> bool:
        """Whether ``nonce_hash`` belongs to an earlier attempt (an id_token replayed from it)."""
        row = await self._db.fetchone("SELECT 1 FROM oauth_states WHERE nonce_hash = ?", (nonce_hash,))
        return row is not None

    async def prune(self) -> None:
        """Forget start tokens and states that expired more than a day ago."""
        cutoff = format_timestamp(self._clock() - PRUNE_AFTER)
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM link_start_tokens WHERE expires_at < ?", (cutoff,))
            await conn.execute("DELETE FROM oauth_states WHERE expires_at < ?", (cutoff,))
