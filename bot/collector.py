"""The cyclic garbage collector, tuned once start-up is over.

Start-up leaves about 75,000 long-lived container objects tracked by CPython's collector (the modules,
discord.py's and pydantic's classes, the catalogs, the gateway's caches). Each full collection walks every one
of them: 30-60 ms on the 2-core test machine, a pause that every request in flight waits out, five times in a
burst of 22,000 webhook events; and the young generation, collected after every 700 net allocations, was
collected about 670 times in that burst. Together 0.8-0.9 s of the event loop's CPU, about 40 us per event
(measured with ``gc.callbacks`` in bench/bench_process.py, four paired runs, see docs/benchmarks.md).

So once, when start-up is over: collect what start-up left as garbage, then :func:`gc.freeze` the survivors
(moved to a permanent generation that collections skip: they live as long as the process anyway) and collect
the young generation after :data:`YOUNG_THRESHOLD` net allocations instead of 700, which most short-lived
request objects never reach (they are freed by reference counting first). Measured: the collector's CPU in the
same burst 0.20-0.21 s instead of 0.82-0.90 s, two full collections instead of five. Garbage cycles made later
are still collected; at most a few thousand more objects wait for it at a time (a few hundred kB).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 10_000
"""Net allocations between two collections of the youngest generation (CPython's default: 700)."""


def settle_after_start_up() -> int:
    """Collect start-up's garbage, freeze what survives, collect young objects less often; the number frozen."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    frozen = gc.get_freeze_count()
    log.info("garbage collector settled frozen=%d young_threshold=%d", frozen, YOUNG_THRESHOLD)
    return frozen
