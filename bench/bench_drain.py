"""Benchmark: the notification drain alone, in one process, for paired runs of old and new code.

Run: ``.venv/bin/python bench/bench_drain.py [--repo PATH] [--events N] [--rounds R]``

N stored purchase events with their queued announcements (written straight into a fresh SQLite file) are
drained through the real :class:`~bot.notifications.dispatcher.NotificationDispatcher`,
:class:`~bot.notifications.discord_sink.DiscordHttpSink` and discord.py's HTTP client to the project's fake
Discord, run as a separate process (no rate limits). Printed: CPU per event of this process (every thread:
the event loop, aiosqlite's thread), of the event loop thread alone, and of the other threads; the median of
R rounds after one warm-up round. Logging is not configured (the INFO line per message is not counted).
``--repo`` imports the bot from another checkout (the fake Discord always comes from this one).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Channels:
    def __init__(self, channel_id: int) -> None:
        self._channel_id = channel_id

    async def channel_id(self, kind: object) -> int:
        return self._channel_id


def _queue(path: Path, first: int, count: int) -> None:
    from bot.notifications.outbox import queue_event_announcements

    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO webhook_events (kind, unique_id, username, amount, item_id, received_at, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("purchase", uid, f"user{uid % 997}", "0.9", "E3yugw", "2026-12-07T15:00:00.123456+00:00", "{}")
            for uid in range(first, first + count)
        ],
    )
    queue_event_announcements(conn, [("purchase", uid) for uid in range(first, first + count)])
    conn.commit()
    conn.close()


async def run(env: dict[str, str], tmp: Path, events: int, rounds: int) -> list[tuple[float, float]]:
    import discord

    from bot.notifications.discord_sink import DiscordHttpSink
    from bot.notifications.dispatcher import NotificationDispatcher
    from bot.notifications.outbox import Outbox
    from bot.storage import Database

    discord.http.Route.BASE = env["DISCORD_API_BASE"].rstrip("/")
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login(env["DISCORD_TOKEN"])
    db = await Database.open(tmp / "bot.sqlite3")
    channels = _Channels(int(env["PURCHASE_CHANNEL_ID"]))
    dispatcher = NotificationDispatcher(Outbox(db), DiscordHttpSink(http), channels)
    figures: list[tuple[float, float]] = []
    for r in range(rounds + 1):
        _queue(tmp / "bot.sqlite3", 1 + r * events, events)
        thread0, process0 = time.thread_time(), time.process_time()
        result = await dispatcher.drain()
        thread1, process1 = time.thread_time(), time.process_time()
        if result.remaining:
            raise RuntimeError(f"{result.remaining} rows left")
        if r:  # the first round warms up
            figures.append(((process1 - process0) / events * 1e6, (thread1 - thread0) / events * 1e6))
    await db.close()
    await http.close()
    return figures


def drain_with_fake(events: int, rounds: int) -> list[tuple[float, float]]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        env_file = tmp / "fake.env"
        fake = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.fake_discord", "--port", "0", "--env-file", str(env_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert fake.stdout is not None
            while "written to" not in fake.stdout.readline():
                pass
            env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
            return asyncio.run(run(env, tmp, events, rounds))
        finally:
            fake.terminate()
            fake.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="import the bot from this checkout")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    figures = drain_with_fake(args.events, args.rounds)
    process = sorted(p for p, _ in figures)[len(figures) // 2]
    loop = sorted(t for _, t in figures)[len(figures) // 2]
    others = sorted(p - t for p, t in figures)[len(figures) // 2]
    print(
        f"{args.repo}: drain CPU per event {process:.0f} us (event loop {loop:.0f}, other threads {others:.0f}); "
        f"{args.events} events x {args.rounds} rounds"
    )


if __name__ == "__main__":
    main()
