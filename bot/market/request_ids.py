"""Request ids that are unique forever and never reused across databases.

Format: ``<prefix>-<epoch>-<nonce>-<seq>``, e.g. ``rb3f9c0a7d1e-12-8c1f04b2e9a7-41``:

- ``prefix`` — ``rb`` + 10 random hex digits, created once per install and kept in ``install_meta``;
  two databases (two installs, or a wiped one) never share it;
- ``epoch`` — a counter in ``install_meta`` incremented (and committed) every time the factory is loaded,
  i.e. every start of the bot;
- ``nonce`` — 12 random hex digits (48 bits) per load, so that restoring an old backup (which rewinds ``epoch``) still
  does not repeat ids;
- ``seq`` — an in-memory sequence from 1 within the load.

Always at most 80 characters of ``[A-Za-z0-9-]``, as the API requires.
"""

from __future__ import annotations

import itertools
import logging
import secrets

from bot.market.validation import validate_request_id
from bot.storage import Database

log = logging.getLogger(__name__)

PREFIX_KEY = "market_request_id_prefix"
EPOCH_KEY = "market_request_id_epoch"


class RequestIdFactory:
    """Makes request ids; build it with :meth:`load` (one per process start)."""

    def __init__(self, prefix: str, epoch: int, nonce: str) -> None:
        self.prefix = prefix
        self.epoch = epoch
        self.nonce = nonce
        self._seq = itertools.count(1)
        validate_request_id(self._format(10**12))  # fails early on a bad prefix

    @classmethod
    async def load(cls, db: Database) -> RequestIdFactory:
        """Read (creating on first use) this install's prefix and take the next epoch, committed."""
        async with db.transaction() as conn:
            async with conn.execute("SELECT value FROM install_meta WHERE key = ?", (PREFIX_KEY,)) as cur:
                row = await cur.fetchone()
            if row is None:
                prefix = "rb" + secrets.token_hex(5)
                await conn.execute("INSERT INTO install_meta (key, value) VALUES (?, ?)", (PREFIX_KEY, prefix))
                log.info("request id prefix created prefix=%s", prefix)
            else:
                prefix = str(row["value"])
            async with conn.execute("SELECT value FROM install_meta WHERE key = ?", (EPOCH_KEY,)) as cur:
                row = await cur.fetchone()
            epoch = (int(row["value"]) if row is not None else 0) + 1
            await conn.execute(
                "INSERT INTO install_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (EPOCH_KEY, str(epoch)),
            )
        return cls(prefix, epoch, secrets.token_hex(6))

    def _format(self, seq: int) -> str:
        return f"{self.prefix}-{self.epoch}-{self.nonce}-{seq}"

    def next(self) -> str:
        """A new request id, never returned before by any factory of any install."""
        return self._format(next(self._seq))
