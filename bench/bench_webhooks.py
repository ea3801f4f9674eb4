"""Benchmark: webhook ingest through the full handler with durable storage vs a bare aiohttp handler.

Run: ``.venv/bin/python bench/bench_webhooks.py [--events N] [--senders C] [--rounds R] [--no-write] [--profile F]``

Both servers run in ONE child process (own event loop and CPU; the senders run in this process, which the
child checks), on two ports of 127.0.0.1:

- bare: an aiohttp handler that only answers 200;
- full: the production webhook feature as ``bot/core.py`` wires it (:meth:`WebhookFeature.create` and
  :meth:`WebhookFeature.add_route`): content type, size limit, JSON parsing, constant-time signature check,
  strict validation, then the event AND its notification outbox row committed in one transaction by the
  store's group-commit writer (SQLite WAL, ``synchronous=FULL``) before the 200. The server logs as
  ``reseller-bot run`` does (INFO, one line per accepted event), to /dev/null. The notification dispatcher
  is left out (not started): with a real Discord it mostly waits for rate limits, and a no-op sink would make
  it far busier than in production.

Each round sends N distinct, validly signed events (purchases and transfers alternating) from C concurrent
senders (one keep-alive connection each) to each handler; rounds alternate which handler goes first. The
unique_ids carry on from the warm-up and from round to round, as Neverlose's increase (no gaps, no late
events). After each round the script checks that every event has its outbox row. The ratio is the median of
the per-round ratios. Figures go to the ``## Webhook ingest`` section of ``docs/benchmarks.md`` (other
sections are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import Paired, against_server, listen, percentile_ms, run_profiled, write_section  # noqa: E402
from bot.market.signing import signed_body  # noqa: E402

SECTION = "## Webhook ingest"
SECRET = "bench-secret"  # noqa: S105 - a throwaway signing key for local events
PATH = "/webhooks/market"
HEADERS = {"Content-Type": "application/json"}


def _serve(
    ports: multiprocessing.Queue[tuple[int, int]],
    stop: multiprocessing.synchronize.Event,
    db_dir: str,
    parent_pid: int,
    profile: str | None,
) -> None:

    from aiohttp import web

    from bot.http.server import error_middleware
    from bot.logging_setup import configure_logging
    from bot.storage import Database
    from bot.webhooks.feature import WebhookFeature

    if os.getpid() == parent_pid:  # pragma: no cover - the whole point is a separate process
        raise RuntimeError("server must not run in the senders' process")
    # Logging as `reseller-bot run` sets it up (INFO: one line per accepted event), written to /dev/null.
    configure_logging("INFO", stream=open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives with the process

    class NoSink:
        async def send_message(self, channel_id: int, *, content: str | None, embeds: object, nonce: str) -> int:
            raise AssertionError("the dispatcher is not started in this benchmark")

        async def open_dm(self, user_id: int) -> int:
            raise AssertionError("the dispatcher is not started in this benchmark")

        async def add_role(self, guild_id: int, user_id: int, role_id: int, *, reason: str) -> None:
            raise AssertionError("the dispatcher is not started in this benchmark")

    class NoChannels:
        async def channel_id(self, kind: object) -> int | None:
            return None

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    async def main() -> None:
        db = await Database.open(Path(db_dir) / "bench.sqlite3")
        feature = await WebhookFeature.create(
            db,
            secret=SECRET,
            channels=NoChannels(),
            sink=NoSink(),
            public_url=None,  # type: ignore[arg-type]
        )
        fanout = asyncio.create_task(feature.processor.run(), name="webhook-fanout-retries")
        bare_app = web.Application(middlewares=[error_middleware])
        bare_app.router.add_post(PATH, bare)

        async def cpu(request: web.Request) -> web.Response:
            return web.json_response({"cpu": time.process_time(), "loop": time.thread_time()})

        bare_app.router.add_get("/cpu", cpu)
        full_app = web.Application(middlewares=[error_middleware])
        feature.add_route(full_app, PATH)

        async def settled(request: web.Request) -> web.Response:
            await feature.processor.drain()
            waiting, failed = await feature.store.fanout_counts()
            outbox = await feature.outbox.counts()
            return web.json_response({"waiting": waiting, "failed": failed, "outbox": outbox.pending})

        full_app.router.add_get("/settled", settled)
        bare_runner, bare_port = await listen(bare_app)
        full_runner, full_port = await listen(full_app)
        ports.put((bare_port, full_port))
        await asyncio.to_thread(stop.wait)
        await full_runner.cleanup()
        await bare_runner.cleanup()
        await feature.close()
        await fanout
        await db.close()

    run_profiled(main, profile)


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
    server_cpu: float = 0.0
    loop_cpu: float = 0.0

    @property
    def cpu_us_per_event(self) -> float:
        return self.server_cpu / self.events * 1e6

    @property
    def loop_us_per_event(self) -> float:
        return self.loop_cpu / self.events * 1e6

    @property
    def loop_busy(self) -> float:
        return self.loop_cpu / self.seconds

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        return percentile_ms(self.latencies, q)


async def server_cpu(url: str) -> tuple[float, float]:
    """CPU seconds used so far by the server process (all its threads) and by its event-loop thread."""
    async with aiohttp.ClientSession() as session, session.get(url.replace(PATH, "/cpu")) as resp:
        answer = await resp.json()
        return float(answer["cpu"]), float(answer["loop"])


async def send_all(name: str, url: str, bodies: list[bytes], senders: int, cpu_url: str | None = None) -> Round:
    cpu_before = await server_cpu(cpu_url) if cpu_url else (0.0, 0.0)
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
    cpu_after = await server_cpu(cpu_url) if cpu_url else (0.0, 0.0)
    return Round(name, len(bodies), elapsed, latencies, cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])


def render(result: Paired[Round], rounds: int, senders: int, load: tuple[float, float]) -> str:
    bare, full = result.bare, result.full
    cpu = os.cpu_count()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    per_round = ", ".join(f"{r:.2f}" for r in result.ratios)
    p99s = ", ".join(f"{p:.1f}" for p in result.p99s)
    lines = [
        SECTION,
        "",
        "`bench/bench_webhooks.py`: sustained ingest of distinct, validly signed events from concurrent senders",
        "(one keep-alive connection each) against the full production webhook feature, wired as `bot/core.py`",
        "wires it (`WebhookFeature.create` + `add_route`): JSON, constant-time signature check, strict validation,",
        "then ONE transaction per group of waiting requests on the store's writer thread (SQLite WAL,",
        "`synchronous=FULL`) that stores the events AND queues their notification outbox rows, committed before",
        "the 200s. The notification dispatcher is not started (with a real Discord it mostly waits for rate",
        "limits). Beside it, in the same run, a bare aiohttp handler that only answers 200. Both servers share",
        "one child process (checked: not the senders' process); the senders run in the parent. Rounds alternate",
        "which handler goes first; after each round the benchmark checks that every event has its outbox row.",
        "The ratio is the median of the per-round ratios; the table shows the median round of each handler.",
        "",
        f"Run {today} on {platform.machine()}, {cpu} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {full.events} events x {rounds} round(s), {senders} senders; "
        f"load average {load[0]:.2f} before, {load[1]:.2f} after (1 min).",
        "",
        "| handler | events/s | p50 ack (ms) | p99 ack (ms) | server CPU per event (us) | event loop busy |",
        "|---|---:|---:|---:|---:|---:|",
        f"| bare aiohttp (200 only) | {bare.rate:,.0f} | {bare.pct(0.50):.1f} | {bare.pct(0.99):.1f} "
        f"| {bare.cpu_us_per_event:.0f} | {bare.loop_busy:.0%} |",
        f"| full (durable + outbox) | {full.rate:,.0f} | {full.pct(0.50):.1f} | {full.pct(0.99):.1f} "
        f"| {full.cpu_us_per_event:.0f} | {full.loop_busy:.0%} |",
        "",
        f"Ratio full / bare: **{result.ratio:.2f}** (target >= 0.5; per round: {per_round}); "
        f"full p99 per round: {p99s} ms (target < 50 ms).",
        "",
        *WHERE_THE_TIME_GOES,
        "",
    ]
    return "\n".join(lines)


WHERE_THE_TIME_GOES = [
    "The server logs as `reseller-bot run` does (INFO, one line per accepted event, written in bursts by the",
    "logging thread), to /dev/null. Where the time goes (a diagnostic copy of this script that times the",
    "writer thread, 10,000 events x 3 rounds, 2026-11-24):",
    "",
    "- Senders, event loop, writer thread and logging thread share two cores, and the writer needs the GIL",
    "  between its SQLite calls. Before this round of work, a transaction of about 21 events took 3.2 ms of",
    "  wall time of which the writer computed 0.7 ms and the disk (the WAL fsync) took about 0.3 ms: the rest",
    "  was the thread waiting for a core and for the GIL after each statement, after the commit and after",
    "  its 0.5 ms gathering wait.",
    "- Hence fewer blocking steps per transaction: rows go in with one multi-row statement per table instead",
    "  of one per event (and the RETURNING rows read one by one); only redeliveries and late events are",
    "  looked up before the insert; the logging thread wakes once per burst of lines, not once per line.",
    "  Each was measured in paired runs (old and new code alternating, same machine state): +0.02 to +0.04",
    "  of ratio each. The gathering wait is gone: no measurable difference (13 paired runs, median +0.02",
    "  without it), so the simpler code and the lower latency won.",
    "- The benchmark itself was corrected: its warm-up used unique_ids above the measured ones, so every",
    "  measured event was a late one costing a gap lookup, which production traffic (increasing unique_ids)",
    "  never pays (about +0.03 in paired runs of the new code, old and new script alternating).",
    "- The machine: the virtual machine showed up to 12-15% CPU pressure from outside; one run's median moves",
    "  by about +-0.05 and single rounds range from 0.40 to 0.70.",
    "",
    "Earlier designs, same script: the fan-out inside the ingest transaction over four aiosqlite round trips:",
    "ratio 0.23, p99 94.6 ms; ingest committed first and a background processor fanning out: 0.42-0.46, p99",
    "24-81 ms; the fan-out back in the transaction on a writer thread, one statement per row: 0.46 (0.38-0.49",
    "over six runs), p99 22-36 ms. Tried and dropped: rendering the embeds on the event loop instead of the",
    "writer, checkpointing the WAL from another connection, a shorter GIL switch interval (no gain in each).",
]


async def run(events: int, senders: int, rounds: int, bare_port: int, full_port: int) -> Paired[Round]:
    bare_url = f"http://127.0.0.1:{bare_port}{PATH}"
    full_url = f"http://127.0.0.1:{full_port}{PATH}"
    settled_url = f"http://127.0.0.1:{full_port}/settled"
    warmup = 1000
    warmup_bodies = build_bodies(warmup, 1)
    await send_all("warmup-bare", bare_url, warmup_bodies, senders)
    await send_all("warmup-full", full_url, warmup_bodies, senders)
    bares: list[Round] = []
    fulls: list[Round] = []
    for r in range(rounds):
        # unique_ids carry on from the warm-up, as Neverlose's increase: no gaps, no late events
        bodies = build_bodies(events, 1 + (warmup + r * events) // 2)
        if r % 2 == 0:  # alternate which goes first: the machine's drift hits both alike
            bares.append(await send_all("bare", bare_url, bodies, senders, bare_url))
            fulls.append(await send_all("full", full_url, bodies, senders, bare_url))
        else:
            fulls.append(await send_all("full", full_url, bodies, senders, bare_url))
            bares.append(await send_all("bare", bare_url, bodies, senders, bare_url))
        async with aiohttp.ClientSession() as session, session.get(settled_url) as resp:
            settled = await resp.json()
        expected = warmup + (r + 1) * events
        if settled["waiting"] or settled["failed"] or settled["outbox"] != expected:
            raise RuntimeError(f"not every event has its notification queued: {settled}, expected {expected}")
        b, f = bares[-1], fulls[-1]
        print(
            f"round {r + 1}: bare {b.rate:,.0f}/s p50 {b.pct(0.5):.1f} ms p99 {b.pct(0.99):.1f} ms "
            f"server CPU {b.cpu_us_per_event:.0f} us/event (loop {b.loop_us_per_event:.0f}, busy {b.loop_busy:.0%}); "
            f"full {f.rate:,.0f}/s p50 {f.pct(0.5):.1f} ms p99 {f.pct(0.99):.1f} ms "
            f"server CPU {f.cpu_us_per_event:.0f} us/event (loop {f.loop_us_per_event:.0f}, busy {f.loop_busy:.0%}); "
            f"ratio {f.rate / b.rate:.2f}; outbox rows {settled['outbox']}"
        )
    return Paired.of(bares, fulls)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--profile", help="write cProfile stats of the server process to this file")
    args = parser.parse_args()

    result, load = against_server(
        _serve,
        args.profile,
        lambda bare_port, full_port: run(args.events, args.senders, args.rounds, bare_port, full_port),
    )
    text = render(result, args.rounds, args.senders, load)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
