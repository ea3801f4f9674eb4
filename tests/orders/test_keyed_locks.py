"""bot.locks.KeyedLocks: one lock per key (the order service's orders, the staff actions' orders and members)."""

from __future__ import annotations

import gc

from bot.locks import KeyedLocks


async def test_one_lock_per_key_kept_only_while_in_use() -> None:
    locks = KeyedLocks[str]()
    first = locks("order-1")
    assert locks("order-1") is first  # the same key: the same lock while it is in use
    other = locks("order-2")
    assert other is not first
    assert len(locks) == 2
    async with first:
        assert locks("order-1").locked()
        assert not locks("order-2").locked()
    del first, other
    gc.collect()
    assert len(locks) == 0  # nobody holds or waits: forgotten
    assert not locks("order-1").locked()
