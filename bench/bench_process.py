"""Benchmark: the whole bot process, run as an operator runs it, beside a bare aiohttp server.

Run: ``.venv/bin/python bench/bench_process.py [--warmup N] [--events N] [--senders C] [--rounds R] [--no-split]
[--rates 250,500,1000] [--seconds S] [--repo PATH] [--no-write]``

Three processes besides this one (which only sends and measures):

- the project's fake Discord on its own (``python -m tests.fake_discord``, as in the README's local demo): REST
  and gateway, no rate limits, every message validated and kept;
- the bot: ``python -m bot run`` (what ``reseller-bot run`` runs) with an environment pointing
  ``DISCORD_API_BASE`` at the fake, its database in a temporary folder, INFO logging to a file (as an operator's
  log collector would take it), the Market API address unreachable (not used by webhooks);
- a bare aiohttp server whose handler reads the body and answers 200 (this script with ``--serve-bare``).

Each round sends N distinct, validly signed purchase events from C concurrent senders (one keep-alive connection
each) to the bare server and to the bot (alternating which goes first), after a warm-up of both. For the bot it
waits until the fake shows every event's embed, then reports the acknowledgement latencies, the bot process's
CPU time (``utime + stime`` from ``/proc/<pid>/stat``: every thread, from the first request until the last
notification was posted), the Discord messages used, and the time from the last acknowledgement to the last
message posted (both ``time.monotonic()``, one clock for every process on Linux).

The split round (skip with ``--no-split``) sends N more events while the fake holds message posts
unanswered (the dispatcher waits on its first post): CPU per event of ingest alone; then the fake answers again
and the CPU used until the last post is the notification drain alone.

The open-loop rates (``--rates``, default 250, 500 and 1000 events/s, ``--seconds`` each; :mod:`bench.open_loop`)
send events at a fixed arrival rate whatever the answers, to the bare server and to the bot (notifications
posted as usual), latency counted from each event's due time: what a sender sees below saturation. The closed
loop of C senders measures saturation, where Little's law fixes the mean latency at C / throughput.

Idle RSS: ``VmRSS`` of the bot process once it is ready (connected, commands synced) and quiet, and again after
the rounds. ``--repo PATH`` runs the bot from another checkout (paired runs of old and new code). Figures go to
the ``## Whole process`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.open_loop import OpenLoopResult, run_open_loop  # noqa: E402
from bench.results import write_section  # noqa: E402
from bot.market.signing import signed_body  # noqa: E402

SECTION = "## Whole process"
SECRET = "bench-secret"  # noqa: S105 - a throwaway signing key for local events
PATH = "/webhooks/market"
HEADERS = {"Content-Type": "application/json"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 60.0
DRAIN_TIMEOUT = 300.0


# ----------------------------------------------------------------------------------------------- /proc
def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu(pid: int) -> dict[int, float]:
    """utime + stime of each live thread of ``pid`` so far, by thread id (ids grow in creation order)."""
    found: dict[int, float] = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def thread_split(before: dict[int, float], after: dict[int, float], events: int) -> str:
    """CPU per event of each thread that used any between two :func:`thread_cpu` snapshots, by thread id."""
    parts = [
        f"{tid}: {(after[tid] - before.get(tid, 0.0)) / events * 1e6:.0f}"
        for tid in sorted(after)
        if after[tid] > before.get(tid, 0.0)
    ]
    return ", ".join(parts)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


# ----------------------------------------------------------------------------------------------- bare
def serve_bare() -> None:
    """The baseline: an aiohttp handler that reads the body and answers 200; prints its port."""
    from aiohttp import web

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    async def main() -> None:
        app = web.Application()
        app.router.add_post(PATH, bare)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sys.stdout.write(f"port={runner.addresses[0][1]}\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# ----------------------------------------------------------------------------------------------- processes
@dataclass
class Processes:
    fake: subprocess.Popen[str]
    bot: subprocess.Popen[bytes]
    bare: subprocess.Popen[str]
    fake_url: str
    bot_url: str
    bare_url: str
    bot_log: Path
    db_path: Path


def _read_line(proc: subprocess.Popen[str], pattern: str, timeout: float) -> re.Match[str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"process exited before printing {pattern!r}")
        if match := re.search(pattern, line):
            return match
    raise RuntimeError(f"no line {pattern!r} within {timeout} s")


def _wait_log(log: Path, pattern: str, bot: subprocess.Popen[bytes], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := re.search(pattern, log.read_text(encoding="utf-8", errors="replace")):
            return match
        if bot.poll() is not None:
            raise RuntimeError(f"the bot exited ({bot.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"no log line {pattern!r} within {timeout} s:\n{log.read_text()[-3000:]}")


RUNTIME_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONOPTIMIZE": "2", "PYTHONNODEBUGRANGES": "1"}
"""The interpreter settings of the Dockerfile's runtime stage: the bot runs from bytecode compiled when the image
was built, without docstrings and asserts (``-OO``) and without column tables (``-X no_debug_ranges``), and
writes none at run time."""

TLS_ENV = {"SSL_CERT_FILE": "/dev/null", "SSL_CERT_DIR": "/etc/ssl/certs"}
"""The Dockerfile's runtime stage's CA settings: the system's CAs read from their directory one at a time as a TLS
connection needs them, not parsed from the bundle file into every TLS context at import."""

_COMPILE = """
import compileall, re, sys
stdlib, *files = sys.stdin.read().splitlines()
skip = re.compile(r"[/](test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip|site-packages)[/]")
ok = compileall.compile_dir(stdlib, quiet=2, rx=skip, workers=0)
ok = all([compileall.compile_file(path, quiet=2) for path in files]) and ok
sys.exit(0 if ok else 1)
"""


def _dependency_files() -> list[str]:
    """The ``.py`` files of every installed distribution the project needs (its dependencies, theirs, and the
    extras they name): what the Dockerfile's ``pip install .`` puts in the image."""
    from importlib import metadata

    wanted: list[tuple[str, frozenset[str]]] = [("neverlose-reseller-bot", frozenset())]
    seen: set[str] = set()
    files: list[str] = []
    while wanted:
        name, extras = wanted.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:  # a dependency for another platform or Python
            continue
        if name != "neverlose-reseller-bot":
            files += [str(dist.locate_file(f)) for f in dist.files or () if f.suffix == ".py"]
        for requirement in dist.requires or ():
            spec, _, marker = requirement.partition(";")
            extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
            if extra and extra.group(1) not in extras:
                continue
            found = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?", spec)
            if found is None or found.group(1).lower() in seen:
                continue
            seen.add(found.group(1).lower())
            more = frozenset(e.strip() for e in (found.group(2) or "").split(",") if e.strip())
            wanted.append((found.group(1), more))
    return files


@functools.cache
def compiled_bytecode(repo: Path) -> Path:
    """A bytecode cache (``PYTHONPYCACHEPREFIX``) holding the standard library, the project's installed
    dependencies and ``repo``'s ``bot`` and ``cogs``, compiled with :data:`RUNTIME_ENV`'s flags, as the
    Dockerfile compiles them when it builds the image. Kept between runs (compiling is skipped for files whose
    bytecode is current): the first run takes about half a minute."""
    import sysconfig

    flags = "-".join(f"{name.removeprefix('PYTHON').lower()}{value}" for name, value in sorted(RUNTIME_ENV.items()))
    cache = Path(tempfile.gettempdir()) / "bench-bytecode" / f"py{sys.version_info[0]}{sys.version_info[1]}-{flags}"
    sources = [sysconfig.get_paths()["stdlib"], *_dependency_files()]
    sources += [str(path) for package in ("bot", "cogs") for path in sorted((repo / package).rglob("*.py"))]
    env = {**os.environ, **RUNTIME_ENV, "PYTHONPYCACHEPREFIX": str(cache)}
    subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _COMPILE], input="\n".join(sources), text=True, env=env, check=True
    )
    return cache


@contextmanager
def processes(tmp: Path, repo: Path) -> Iterator[Processes]:
    started: list[subprocess.Popen[Any]] = []
    try:
        env_file = tmp / "fake.env"
        fake = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.fake_discord", "--port", "0", "--env-file", str(env_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=(tmp / "fake.log").open("w"),
            text=True,
        )
        started.append(fake)
        fake_url = _read_line(fake, r"listening on (http://\S+)", START_TIMEOUT).group(1)
        _read_line(fake, r"written to", START_TIMEOUT)
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        bare = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--serve-bare"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        started.append(bare)
        bare_port = _read_line(bare, r"port=(\d+)", START_TIMEOUT).group(1)
        db_path = tmp / "bot.sqlite3"
        bot_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            **RUNTIME_ENV,  # run as the Dockerfile runs it
            **TLS_ENV,
            "PYTHONPYCACHEPREFIX": str(compiled_bytecode(repo)),
            **env,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": "0",
            "DATABASE_PATH": str(db_path),
            "MARKET_USER_ID": "1",
            "MARKET_SECRET": SECRET,
            "MARKET_BASE_URL": "http://127.0.0.1:9/api/market",  # unreachable: webhooks do not use it
            "LOG_LEVEL": "INFO",
        }
        bot_log = tmp / "bot.log"
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=repo,
            env=bot_env,
            stdin=subprocess.DEVNULL,
            stdout=bot_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(bot)
        port = _wait_log(bot_log, r"http server listening host=\S+ port=(\d+)", bot, START_TIMEOUT).group(1)
        _wait_log(bot_log, r"commands synced count=\d+", bot, START_TIMEOUT)
        yield Processes(
            fake=fake,
            bot=bot,
            bare=bare,
            fake_url=fake_url,
            bot_url=f"http://127.0.0.1:{port}",
            bare_url=f"http://127.0.0.1:{bare_port}",
            bot_log=bot_log,
            db_path=db_path,
        )
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# ----------------------------------------------------------------------------------------------- load
def build_bodies(count: int, first_uid: int) -> list[bytes]:
    bodies = []
    for uid in range(first_uid, first_uid + count):
        fields: dict[str, object] = {
            "kind": "purchase",
            "amount": 0.9,
            "username": f"user{uid % 997}",
            "unique_id": uid,
            "item_id": "E3yugw",
        }
        bodies.append(json.dumps(signed_body(fields, SECRET)).encode())
    return bodies


@dataclass
class Burst:
    events: int
    seconds: float
    latencies: list[float]
    last_ack: float
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.events * 1e6


async def send_all(url: str, bodies: list[bytes], senders: int, pid: int) -> Burst:
    latencies: list[float] = []
    it = iter(bodies)
    last_ack = 0.0
    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            nonlocal last_ack
            for body in it:
                started = time.perf_counter()
                async with session.post(url + PATH, data=body, headers=HEADERS) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"{url}: HTTP {resp.status}")
                latencies.append(time.perf_counter() - started)
                last_ack = time.monotonic()

        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(pid)
    return Burst(len(bodies), elapsed, latencies, last_ack, cpu_after - cpu_before)


@dataclass
class OpenRound:
    result: OpenLoopResult
    cpu: float

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.result.sent * 1e6


async def send_open(url: str, bodies: list[bytes], rate: float, pid: int) -> OpenRound:
    """``bodies`` sent at ``rate`` per second (open loop), latency from each one's due time."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> None:
            async with session.post(url + PATH, data=bodies[i], headers=HEADERS) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"{url}: HTTP {resp.status}")

        cpu_before = cpu_seconds(pid)
        result = await run_open_loop(one, rate=rate, count=len(bodies))
        cpu = cpu_seconds(pid) - cpu_before
    if result.errors:
        raise RuntimeError(f"{url} at {rate:g}/s: {result.errors} errors, first: {result.first_error}")
    return OpenRound(result, cpu)


async def posted(session: aiohttp.ClientSession, fake_url: str, *, ids: bool = False) -> dict[str, Any]:
    url = f"{fake_url}/_control/posted/purchases" + ("?ids=1" if ids else "")
    async with session.get(url) as resp:
        answer: dict[str, Any] = await resp.json()
        return answer


async def wait_posted(session: aiohttp.ClientSession, fake_url: str, embeds: int) -> dict[str, Any]:
    """Until the purchase channel shows ``embeds`` embeds (polled every 50 ms)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        state = await posted(session, fake_url)
        if state["embeds"] >= embeds:
            return state
        await asyncio.sleep(0.05)
    raise RuntimeError(f"only {state['embeds']} of {embeds} events posted after {DRAIN_TIMEOUT:.0f} s")


@dataclass
class FullRound:
    burst: Burst
    notify_tail_cpu: float
    messages: int
    last_ack_to_last_post: float

    @property
    def cpu_us(self) -> float:
        return (self.burst.cpu + self.notify_tail_cpu) / self.burst.events * 1e6


@dataclass
class Results:
    bare: list[Burst] = field(default_factory=list)
    full: list[FullRound] = field(default_factory=list)
    ingest_cpu_us: float | None = None
    notify_cpu_us: float | None = None
    split_messages: int | None = None
    opened: list[tuple[OpenRound, OpenRound]] = field(default_factory=list)
    rss_idle: float = 0.0
    rss_after: float = 0.0
    log_lines_per_event: float = 0.0


async def full_round(p: Processes, session: aiohttp.ClientSession, bodies: list[bytes], senders: int) -> FullRound:
    before = await posted(session, p.fake_url)
    burst = await send_all(p.bot_url, bodies, senders, p.bot.pid)
    cpu_at_last_ack = cpu_seconds(p.bot.pid)
    after = await wait_posted(session, p.fake_url, before["embeds"] + len(bodies))
    tail = cpu_seconds(p.bot.pid) - cpu_at_last_ack
    return FullRound(burst, tail, after["posts"] - before["posts"], after["last_post_at"] - burst.last_ack)


async def run(args: argparse.Namespace, p: Processes) -> Results:
    results = Results()
    uid = 1
    async with aiohttp.ClientSession() as session:
        await asyncio.sleep(2.0)  # let start-up settle
        results.rss_idle = rss_mb(p.bot.pid)
        warm = build_bodies(args.warmup, uid)
        uid += args.warmup
        await send_all(p.bare_url, warm, args.senders, p.bare.pid)
        await full_round(p, session, warm, args.senders)
        for r in range(args.rounds):
            bodies = build_bodies(args.events, uid)
            uid += args.events
            if r % 2 == 0:
                results.bare.append(await send_all(p.bare_url, bodies, args.senders, p.bare.pid))
                results.full.append(await full_round(p, session, bodies, args.senders))
            else:
                results.full.append(await full_round(p, session, bodies, args.senders))
                results.bare.append(await send_all(p.bare_url, bodies, args.senders, p.bare.pid))
            b, f = results.bare[-1], results.full[-1]
            print(
                f"round {r + 1}: bare {b.rate:,.0f}/s p99 {b.pct(0.99):.1f} ms CPU {b.cpu_us:.0f} us/event; "
                f"bot {f.burst.rate:,.0f}/s p50 {f.burst.pct(0.5):.1f} ms p99 {f.burst.pct(0.99):.1f} ms "
                f"CPU {f.cpu_us:.0f} us/event (burst {f.burst.cpu_us:.0f}, tail "
                f"{f.notify_tail_cpu / f.burst.events * 1e6:.0f}); messages {f.messages}; "
                f"last ack -> last post {f.last_ack_to_last_post:.2f} s",
                flush=True,
            )
        for rate in args.rates:
            bodies = build_bodies(max(1, int(rate * args.seconds)), uid)
            uid += len(bodies)
            before = await posted(session, p.fake_url)
            bare_open = await send_open(p.bare_url, bodies, rate, p.bare.pid)
            bot_open = await send_open(p.bot_url, bodies, rate, p.bot.pid)
            await wait_posted(session, p.fake_url, before["embeds"] + len(bodies))
            results.opened.append((bare_open, bot_open))
            ob, ot = bare_open.result, bot_open.result
            print(
                f"open loop {rate:,.0f}/s: bare p50 {ob.pct(0.5):.1f} p99 {ob.pct(0.99):.1f} ms "
                f"(send lag p99 {ob.lag_pct(0.99):.1f}); bot {ot.achieved:,.0f}/s p50 {ot.pct(0.5):.1f} "
                f"p99 {ot.pct(0.99):.1f} ms (send lag p99 {ot.lag_pct(0.99):.1f}) CPU {bot_open.cpu_us:.0f} us/event",
                flush=True,
            )
        if args.split:
            bodies = build_bodies(args.events, uid)
            uid += args.events
            before = await posted(session, p.fake_url)
            async with session.post(p.fake_url + "/_control/hold") as resp:
                resp.raise_for_status()
            cpu_start, threads_start = cpu_seconds(p.bot.pid), thread_cpu(p.bot.pid)
            burst = await send_all(p.bot_url, bodies, args.senders, p.bot.pid)
            await asyncio.sleep(0.5)  # the last commits' after-work (logging thread)
            cpu_held, threads_held = cpu_seconds(p.bot.pid), thread_cpu(p.bot.pid)
            async with session.post(p.fake_url + "/_control/release") as resp:
                resp.raise_for_status()
            after = await wait_posted(session, p.fake_url, before["embeds"] + len(bodies))
            notify = cpu_seconds(p.bot.pid) - cpu_held
            threads_after = thread_cpu(p.bot.pid)
            results.ingest_cpu_us = (cpu_held - cpu_start) / len(bodies) * 1e6
            results.notify_cpu_us = notify / len(bodies) * 1e6
            results.split_messages = after["posts"] - before["posts"]
            print(
                f"split: ingest {burst.rate:,.0f}/s CPU {results.ingest_cpu_us:.0f} us/event; "
                f"notify drain CPU {results.notify_cpu_us:.0f} us/event, {results.split_messages} messages\n"
                f"  ingest by thread id (the main thread's id is the pid {p.bot.pid}), us/event: "
                f"{thread_split(threads_start, threads_held, len(bodies))}\n"
                f"  drain by thread id, us/event: {thread_split(threads_held, threads_after, len(bodies))}",
                flush=True,
            )
        final = await posted(session, p.fake_url, ids=True)
        total = uid - 1
        if final["embeds"] != total or final["distinct_unique_ids"] != total:
            raise RuntimeError(f"posted {final} but {total} events were sent")
        await asyncio.sleep(2.0)
        results.rss_after = rss_mb(p.bot.pid)
        lines = p.bot_log.read_text(encoding="utf-8", errors="replace").count("\n")
        results.log_lines_per_event = lines / total
    return results


# ----------------------------------------------------------------------------------------------- report
def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def render(results: Results, args: argparse.Namespace, load: tuple[float, float]) -> str:
    bare = sorted(results.bare, key=lambda b: b.rate)[len(results.bare) // 2]
    full = sorted(results.full, key=lambda f: f.burst.rate)[len(results.full) // 2]
    bare_cpu = _median([b.cpu_us for b in results.bare])
    full_cpu = _median([f.cpu_us for f in results.full])
    ratio = _median([f.burst.rate / b.rate for b, f in zip(results.bare, results.full, strict=True)])
    tail = max(f.last_ack_to_last_post for f in results.full)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    split = (
        f"ingest alone **{results.ingest_cpu_us:.0f} us**, notification drain alone **{results.notify_cpu_us:.0f} us**"
        f" per event ({results.split_messages} messages for {args.events} events)"
        if results.ingest_cpu_us is not None and results.notify_cpu_us is not None
        else "not measured (--no-split)"
    )
    lines = [
        SECTION,
        "",
        "`bench/bench_process.py`: the bot as an operator runs it (`python -m bot run`, INFO logging to a file)",
        "against the project's fake Discord run as a separate process (no rate limits), beside a bare aiohttp",
        "server (reads the body, answers 200) in the same run; the senders run in the benchmark's own process.",
        "",
        f"Run {today} on {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.warmup} warm-up then {args.events} purchase events x {args.rounds} round(s), {args.senders} senders; "
        f"load average {load[0]:.2f} before, {load[1]:.2f} after (1 min).",
        "",
        "| process | events/s | p50 ack (ms) | p99 ack (ms) | CPU per event (us) |",
        "|---|---:|---:|---:|---:|",
        f"| bare aiohttp (200 only) | {bare.rate:,.0f} | {bare.pct(0.5):.1f} | {bare.pct(0.99):.1f} | {bare_cpu:.0f} |",
        f"| bot (`reseller-bot run`, notifications posted) | {full.burst.rate:,.0f} | {full.burst.pct(0.5):.1f} "
        f"| {full.burst.pct(0.99):.1f} | {full_cpu:.0f} |",
        "",
        f"- events/s bot / bare: **{ratio:.2f}**; CPU per event bot / bare: **{full_cpu / bare_cpu:.1f}x** "
        "(target <= 3x); the bot's CPU counts every thread from the first request until the last notification "
        "was posted;",
        f"- CPU per event split: {split};",
        f"- Discord messages used: {full.messages} for {args.events} events; last acknowledgement to last "
        f"notification posted: **{tail:.2f} s** (worst round; target <= 5 s);",
        f"- RSS of the bot process: **{results.rss_idle:.0f} MB** idle after start-up (target < 60 MB), "
        f"{results.rss_after:.0f} MB idle after the run; {results.log_lines_per_event:.2f} log lines per event.",
        "",
        *render_open(results.opened, args.seconds),
        *NOTES,
        "",
    ]
    return "\n".join(lines)


def render_open(opened: list[tuple[OpenRound, OpenRound]], seconds: float) -> list[str]:
    if not opened:
        return []
    rows = [
        f"| {r.result.rate:,.0f} | {name} | {r.result.achieved:,.0f} | {r.result.pct(0.5):.1f} "
        f"| {r.result.pct(0.99):.1f} | {r.result.lag_pct(0.99):.1f} | {r.cpu_us:.0f} |"
        for bare, bot in opened
        for name, r in (("bare aiohttp", bare), ("bot", bot))
    ]
    return [
        f"Open loop (`bench/open_loop.py`): events sent at a fixed rate for {seconds:g} s each, whatever the answers",
        "(no sender waits for the previous answer), latency counted from when each event was due (no coordinated",
        "omission); the bot posts its notifications meanwhile, as in the rounds above. Send lag: how late the load",
        "generator itself sent (when it is large, the machine, not the server, is behind).",
        "",
        "| rate (events/s) | process | answered/s | p50 (ms) | p99 (ms) | send lag p99 (ms) | CPU per event (us) |",
        "|---:|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]


NOTES = (Path(__file__).resolve().parent / "bench_process_notes.md").read_text(encoding="utf-8").splitlines()
"""What the figures mean and where the time goes (kept beside the script, written under the figures)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--rates",
        type=lambda text: [float(rate) for rate in text.split(",") if rate.strip()],
        default=[250.0, 500.0, 1000.0],
        help="open-loop arrival rates, events/s, comma-separated ('' for none)",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each open-loop rate")
    parser.add_argument("--no-split", dest="split", action="store_false", help="skip the ingest / notify split")
    parser.add_argument("--repo", type=Path, default=ROOT, help="run the bot from this checkout")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--py-spy", nargs=2, metavar=("PY_SPY", "OUT"), help="profile the bot with py-spy")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare()
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, processes(Path(tmp), args.repo.resolve()) as procs:
        spy = None
        if args.py_spy:  # sample the bot process (all threads, idle frames left out) into a collapsed-stacks file
            binary, out = args.py_spy
            command = [binary, "record", "--pid", str(procs.bot.pid), "--format", "raw", "--output", out]
            spy = subprocess.Popen([*command, "--threads", "--rate", "200"], stdout=subprocess.DEVNULL)  # noqa: S603
        try:
            results = asyncio.run(run(args, procs))
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)
    text = render(results, args, (load_before, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
