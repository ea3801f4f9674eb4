"""What the benchmarks share: where they record their figures (one ``## `` section each in
``docs/benchmarks.md``), the server process they measure (a bare and a full handler on two ports of 127.0.0.1),
and how a run's rounds are summed up."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import re
import statistics
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
INTRO = "# Benchmarks\n\nFigures recorded by the scripts in `bench/`; re-run them to refresh.\n\n"


def write_section(section: str, text: str) -> Path:
    """Replace the ``section`` heading's section of the document with ``text`` (append it if missing); the
    other sections are kept. Returns the document's path."""
    if DOC.exists():
        current = DOC.read_text(encoding="utf-8")
        pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(current):
            updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current, count=1)
        else:
            updated = current.rstrip("\n") + "\n\n" + text
    else:
        updated = INTRO + text
    DOC.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")
    return DOC


# ---------------------------------------------------------------- the server process
Serve = Callable[
    ["multiprocessing.Queue[tuple[int, int]]", multiprocessing.synchronize.Event, str, int, str | None], None
]
"""``serve(ports, stop, db_dir, parent_pid, profile)``: runs in the child; puts ``(bare_port, full_port)`` on
``ports`` once both listen, serves until ``stop`` is set."""

T = TypeVar("T")


async def listen(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on a free port of 127.0.0.1, without an access log: its runner and port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


def run_profiled(main: Callable[[], Coroutine[Any, Any, None]], profile: str | None) -> None:
    """``asyncio.run(main())``; under cProfile, its stats written to ``profile``, when a path is given."""
    if profile is None:
        asyncio.run(main())
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(main())
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


def against_server(
    serve: Serve, profile: str | None, clients: Callable[[int, int], Coroutine[Any, Any, T]]
) -> tuple[T, tuple[float, float]]:
    """Start ``serve`` in a spawned child process (a fresh temporary folder for its database), run
    ``clients(bare_port, full_port)`` in this one, then stop the child. Returns what the clients returned and
    the 1-minute load average before and after."""
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[tuple[int, int]] = ctx.Queue()
    stop = ctx.Event()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as db_dir:
        server = ctx.Process(target=serve, args=(ports, stop, db_dir, os.getpid(), profile), daemon=True)
        server.start()
        try:
            bare_port, full_port = ports.get(timeout=30)
            result = asyncio.run(clients(bare_port, full_port))
        finally:
            stop.set()
            server.join(timeout=30)
    return result, (load_before, os.getloadavg()[0])


# ---------------------------------------------------------------- rounds
def percentile_ms(latencies: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank below) of ``latencies`` in seconds, in milliseconds."""
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Round(Protocol):
    @property
    def rate(self) -> float: ...

    def pct(self, q: float) -> float: ...


R = TypeVar("R", bound=Round)


@dataclass
class Paired(Generic[R]):
    """A run's rounds, the bare and the full handler measured in turn: each one's median round (by rate), the
    per-round ratios full / bare and the full handler's p99 per round."""

    bare: R
    full: R
    ratios: list[float]
    p99s: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @classmethod
    def of(cls, bares: Sequence[R], fulls: Sequence[R]) -> Paired[R]:
        return cls(
            sorted(bares, key=lambda x: x.rate)[len(bares) // 2],
            sorted(fulls, key=lambda x: x.rate)[len(fulls) // 2],
            [f.rate / b.rate for b, f in zip(bares, fulls, strict=True)],
            [f.pct(0.99) for f in fulls],
        )
