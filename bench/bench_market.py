"""Benchmark: Market client vs bare aiohttp POSTs against the simulator on loopback.

Run: ``.venv/bin/python bench/bench_market.py [--requests N] [--concurrency C] [--rounds R] [--no-write]``

The simulator runs in a child process (its own event loop and CPU), so the figures compare what the
client adds per request on the calling side. For each method, rounds alternate bare / client (same server,
same run, same connection limit); the medians are reported. Bare = ``session.post`` of
pre-built, pre-signed bodies + ``resp.read()``. Client = the full ``MarketClient`` call (validation,
signing, JSON, answer parsing, typed result). The figures are written to the ``## Market client`` section
of ``docs/benchmarks.md`` (other sections are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from bot.market.client import MarketClient  # noqa: E402
from bot.market.models import Plan, Product  # noqa: E402
from bot.market.retry import RetryPolicy  # noqa: E402
from bot.market.signing import signed_body  # noqa: E402

SECTION = "## Market client"
START_BALANCE = Decimal("100000000.00")
GIFT_PRICE = Decimal("17.10")
HEADERS = {"Content-Type": "application/json"}


def _serve(port_queue: multiprocessing.Queue[int], stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    from collections import deque

    from bot.market.simulator.runner import run_simulator_app
    from bot.market.simulator.state import SimulatorState

    async def main() -> None:
        state = SimulatorState.demo()
        state.balance = START_BALANCE
        state.request_log = deque(maxlen=16)
        sim = await run_simulator_app(state, port=0)
        port_queue.put(sim.port)
        await asyncio.to_thread(stop.wait)
        await sim.close()

    asyncio.run(main())


async def _drive(total: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> float:
    """Run ``call(i)`` for i in range(total) with ``concurrency`` workers; return requests per second."""
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def run(requests: int, concurrency: int, rounds: int) -> dict[str, dict[str, float]]:
    ctx = multiprocessing.get_context("spawn")
    port_queue: multiprocessing.Queue[int] = ctx.Queue()
    stop = ctx.Event()
    server = ctx.Process(target=_serve, args=(port_queue, stop), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        base = f"http://127.0.0.1:{port}/api/market"
        user_id, secret = 1, "sandbox-secret"
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = MarketClient(session, base_url=base, user_id=user_id, secret=secret, retry=RetryPolicy(attempts=1))
            results: dict[str, dict[str, float]] = {}
            sequence = 0

            async def bare(url: str, bodies: list[bytes]) -> Callable[[int], Awaitable[None]]:
                async def call(i: int) -> None:
                    async with session.post(url, data=bodies[i], headers=HEADERS) as resp:
                        await resp.read()
                        if resp.status != 200:
                            raise RuntimeError(f"bare request failed: HTTP {resp.status}")

                return call

            # --- get-balance
            balance_body = json.dumps(signed_body({"user_id": user_id}, secret)).encode()
            bare_balance = await bare(f"{base}/get-balance", [balance_body] * requests)

            async def client_balance(i: int) -> None:
                await client.get_balance()

            # --- gift-product (every request a new id, as in real use)
            gifts = 0

            def gift_bodies() -> list[bytes]:
                nonlocal sequence
                bodies = []
                for _ in range(requests):
                    sequence += 1
                    fields = {
                        "user_id": user_id,
                        "id": f"bench-bare-{sequence}",
                        "username": "darth",
                        "product": "csgo",
                        "cnt": 0,
                    }
                    bodies.append(json.dumps(signed_body(fields, secret)).encode())
                return bodies

            async def client_gift(i: int) -> None:
                nonlocal sequence
                sequence += 1
                await client.gift_product("darth", Product.CSGO, Plan.DAYS_30, request_id=f"bench-client-{sequence}")

            await _drive(min(500, requests), concurrency, client_balance)  # warm-up: connections, caches
            for name in ("get-balance", "gift-product"):
                rates: dict[str, list[float]] = {"bare": [], "client": []}
                ratios: list[float] = []
                for number in range(rounds):
                    if name == "get-balance":
                        modes = {"bare": bare_balance, "client": client_balance}
                    else:
                        modes = {"bare": await bare(f"{base}/gift-product", gift_bodies()), "client": client_gift}
                        gifts += 2 * requests
                    order = ("bare", "client") if number % 2 == 0 else ("client", "bare")
                    this_round = {mode: await _drive(requests, concurrency, modes[mode]) for mode in order}
                    for mode, rate in this_round.items():
                        rates[mode].append(rate)
                    ratios.append(this_round["client"] / this_round["bare"])
                results[name] = {
                    "bare": statistics.median(rates["bare"]),
                    "client": statistics.median(rates["client"]),
                    "ratio": statistics.median(ratios),
                }
            # Sanity: every gift was debited exactly once.
            balance = await client.get_balance()
            expected = START_BALANCE - GIFT_PRICE * gifts
            if balance != expected:
                raise RuntimeError(f"balance {balance} != expected {expected}")
            return results
    finally:
        stop.set()
        server.join(timeout=10)


def render(results: dict[str, dict[str, float]], requests: int, concurrency: int, rounds: int) -> str:
    lines = [
        SECTION,
        "",
        "`bench/bench_market.py`: requests per second through `MarketClient` against the simulator on loopback,",
        "beside bare aiohttp POSTs of the same bodies to the same server in the same run (simulator in a child",
        f"process; {requests} requests per round, concurrency {concurrency}, {rounds} rounds alternating which goes",
        "first; medians of the rates and of the per-round ratios). Other processes shared the 2 CPUs during the",
        "run, so single rounds vary; the median ratio is the figure to compare.",
        f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} CPU(s), Python {platform.python_version()},"
        f" aiohttp {aiohttp.__version__}. Target: client >= 0.8 x bare.",
        "",
        "| method | bare aiohttp (req/s) | MarketClient (req/s) | client / bare |",
        "|---|---:|---:|---:|",
    ]
    for name, row in results.items():
        lines.append(f"| {name} | {row['bare']:.0f} | {row['client']:.0f} | {row['ratio']:.2f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    results = asyncio.run(run(args.requests, args.concurrency, args.rounds))
    text = render(results, args.requests, args.concurrency, args.rounds)
    print(text)
    if not args.no_write:
        print(f"written to {write_section(SECTION, text)}")


if __name__ == "__main__":
    main()
