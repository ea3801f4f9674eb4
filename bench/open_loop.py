"""An open-loop load generator: requests sent at a fixed arrival rate, latency from the scheduled send time.

A closed loop (N clients, each sending its next request when the previous one answered) measures the server
at saturation, and there Little's law fixes the mean latency: mean = N / throughput (50 clients at 1,000
requests/s: 50 ms, whatever the handler). It cannot tell how fast a request is answered when the server is
not saturated. Here request ``i`` is due at ``start + i / rate`` whatever happened to the others, so the
server sees the arrivals a real site would; its latency is counted from when it was DUE, not from when it
was actually sent, so a server (or a generator) falling behind shows up as latency instead of as fewer,
later requests (coordinated omission). How late the generator itself sent is reported too (``send_lag``):
when that is large, the figures measure the load generator's machine, not the server.

Use::

    async def one(i: int) -> None:  # sends request i, raises when the answer is wrong
        ...

    result = await run_open_loop(one, rate=250, count=1250)
    result.pct(0.99)  # ms
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.results import percentile_ms


@dataclass
class OpenLoopResult:
    """What one open-loop run measured (times in seconds)."""

    rate: float
    """The arrival rate asked for, requests per second."""
    sent: int
    seconds: float
    """From the first request's due time to the last answer."""
    latencies: list[float] = field(repr=False)
    """Per answered request: answer received minus due time."""
    send_lag: list[float] = field(repr=False)
    """Per request: actually sent minus due time (the generator's own delay)."""
    errors: int = 0
    first_error: str | None = None

    @property
    def achieved(self) -> float:
        """Answers per second over the run."""
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def pct(self, q: float) -> float:
        """The ``q`` quantile of the latency, in milliseconds (NaN when nothing was answered)."""
        return percentile_ms(self.latencies, q) if self.latencies else float("nan")

    def lag_pct(self, q: float) -> float:
        """The ``q`` quantile of the generator's send lag, in milliseconds."""
        return percentile_ms(self.send_lag, q)


async def run_open_loop(
    request: Callable[[int], Awaitable[object]],
    *,
    rate: float,
    count: int,
    clock: Callable[[], float] = time.perf_counter,
) -> OpenLoopResult:
    """Call ``request(i)`` for ``i`` in ``range(count)``, each at ``start + i / rate`` (catching up at once when
    late), without waiting for earlier answers; wait for every answer. A request that raises is counted in
    ``errors`` (the first one's text kept), not in ``latencies``. Concurrency is unbounded: a slow server
    gets more requests in flight, as it would from real clients (the caller's HTTP connection pool may
    queue them; that wait counts as latency)."""
    if rate <= 0 or count <= 0:
        raise ValueError("rate and count must be positive")
    latencies: list[float] = []
    send_lag: list[float] = []
    errors = 0
    first_error: str | None = None

    async def one(i: int, due: float) -> None:
        nonlocal errors, first_error
        send_lag.append(clock() - due)
        try:
            await request(i)
        except Exception as exc:  # counted and reported, the run goes on
            errors += 1
            if first_error is None:
                first_error = f"{type(exc).__name__}: {exc}"
            return
        latencies.append(clock() - due)

    tasks: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate
    start = clock()
    for i in range(count):
        due = start + i * interval
        wait = due - clock()
        if wait > 0:
            await asyncio.sleep(wait)
        task = asyncio.ensure_future(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks)
    return OpenLoopResult(
        rate=rate,
        sent=count,
        seconds=clock() - start,
        latencies=latencies,
        send_lag=send_lag,
        errors=errors,
        first_error=first_error,
    )
