"""Run the real bot process (``python -m bot run|sandbox``) against the fake Discord and the Market simulator.

The fake Discord and the simulator run in the test's own event loop on 127.0.0.1; the bot is a child process
started with :func:`asyncio.create_subprocess_exec` and an explicit environment (nothing of the developer's
environment or ``.env`` leaks in). Its standard output and error go, line by line, to ``bot-<n>.log`` in the
test's ``tmp_path`` and to memory, so a test can wait for a log line and every failure message can show the
log. The embedded HTTP server listens on port 0; its real port is read from the bot's own
``http server listening ... port=N`` line, so there is no free-port race.

::

    bot = BotProcess(env=bot_env(fake, sim, tmp_path), cwd=tmp_path)
    await bot.start("run")
    await bot.wait_ready(fake)            # /healthz 200, READY seen by the fake, commands synced
    ...
    await bot.terminate()                 # SIGTERM; asserts exit status 0 within 10 s
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.market.simulator.runner import RunningSimulator
from tests.fake_discord import FakeDiscord, InteractionRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 120
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
_BAD_LEVEL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (ERROR|CRITICAL) ")
_LISTENING = re.compile(r"http server listening host=\S+ port=(\d+)")


def bot_env(
    fake: FakeDiscord,
    sim: RunningSimulator | None,
    tmp_path: Path,
    *,
    database: str = "bot.sqlite3",
    **overrides: str,
) -> dict[str, str]:
    """The complete environment of the bot process: the fake's token and API base, the simulator's
    credentials, the fake guild's channels and Staff role, a database in ``tmp_path``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GUILD_ID": str(fake.guild.id),
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": "0",
        "DATABASE_PATH": str(tmp_path / database),
        "PURCHASE_CHANNEL_ID": str(fake.channels["purchases"].id),
        "TRANSFER_CHANNEL_ID": str(fake.channels["transfers"].id),
        "AUDIT_CHANNEL_ID": str(fake.channels["audit"].id),
        "STAFF_ROLE_IDS": str(fake.staff_role.id),
        "LOG_LEVEL": "INFO",
    }
    if sim is not None:
        env.update(
            MARKET_BASE_URL=sim.base_url,
            MARKET_USER_ID=str(sim.user_id),
            MARKET_SECRET=sim.secret,
        )
    env.update(overrides)
    return env


@dataclass
class BotProcess:
    """One bot process at a time; :meth:`start` again after it exited to model a restart."""

    env: dict[str, str]
    cwd: Path
    name: str = "bot"
    args: tuple[str, ...] = ()  # before the subcommand, e.g. ("--env-file", "demo.env")
    proc: asyncio.subprocess.Process | None = None
    port: int | None = None
    lines: list[str] = field(default_factory=list)
    starts: int = 0
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _log_file: Any = None
    _started_at: float = 0.0

    # ----------------------------------------------------------------- lifecycle
    async def start(self, command: str = "run") -> None:
        assert self.proc is None or self.proc.returncode is not None, "the bot is already running"
        await self._finish_reader()
        self.starts += 1
        self.port = None
        self._started_at = time.monotonic()
        log_path = self.cwd / f"{self.name}-{self.starts}.log"
        self._log_file = log_path.open("w", encoding="utf-8")
        self.lines.append(
            f"----- start #{self.starts}: python -m bot {' '.join((*self.args, command))} (log {log_path}) -----"
        )
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self.args,
            command,
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read(self.proc), name=f"{self.name}-log-reader")

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while raw := await proc.stdout.readline():
                line = _ANSI.sub("", raw.decode("utf-8", "replace").rstrip("\n"))
                self.lines.append(line)
                self._log_file.write(line + "\n")
                self._log_file.flush()
                match = _LISTENING.search(line)
                if match:
                    self.port = int(match.group(1))
                self._notify()
        finally:
            self._log_file.close()
            self._notify()

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _finish_reader(self) -> None:
        if self._reader is not None:
            await self._reader
            self._reader = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit status (fails the test with the log when the process does not exit in time)."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the bot did not exit within {timeout:.0f} s\n{self.log_tail()}") from None
        await self._finish_reader()
        return code

    async def kill(self) -> int:
        """SIGKILL: no shutdown code runs (a power cut, an OOM kill)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        return await self.wait_exit()

    async def terminate(self, *, expect: int = 0, timeout: float = STOP_TIMEOUT) -> float:
        """SIGTERM and wait; asserts the exit status and returns how long the shutdown took."""
        assert self.proc is not None, "the bot was never started"
        assert self.proc.returncode is None, "the bot is not running"
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = await self.wait_exit(timeout)
        took = time.monotonic() - started
        assert code == expect, f"exit status {code}, expected {expect}\n{self.log_tail()}"
        return took

    async def close(self) -> None:
        """Finalizer: kill whatever still runs and wait for it (never leaves a process or a pipe behind)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._finish_reader(), STOP_TIMEOUT)

    # ----------------------------------------------------------------- waiting
    async def wait_for_line(self, pattern: str, *, timeout: float = 5.0, after: int = 0) -> re.Match[str]:
        """The first log line (from index ``after``) matching the regex ``pattern``."""
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for line in self.lines[after:]:
                        if match := regex.search(line):
                            return match
                    if not self.running and (self._reader is None or self._reader.done()):
                        raise AssertionError(f"the bot exited without logging {pattern!r}\n{self.log_tail()}")
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"no log line {pattern!r} within {timeout} s\n{self.log_tail()}") from None

    def log_lines(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return [line for line in self.lines if regex.search(line)]

    @property
    def base_url(self) -> str:
        assert self.port is not None, "the bot has not logged its HTTP port yet"
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.env.get("WEBHOOK_PATH", "/webhooks/market")

    async def healthz(self, session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
        async with session.get(self.base_url + "/healthz") as resp:
            return resp.status, await resp.json()

    async def wait_health(
        self, session: aiohttp.ClientSession, status: int, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Poll ``/healthz`` (every 50 ms) until it answers ``status``; returns the body."""
        await self.wait_for_line(_LISTENING.pattern, timeout=timeout, after=self._start_index())
        last: object = "no answer"
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if not self.running:
                        raise AssertionError(f"the bot exited (status {self.proc and self.proc.returncode})")
                    try:
                        code, body = await self.healthz(session)
                    except aiohttp.ClientError as exc:
                        last = repr(exc)
                    else:
                        if code == status:
                            return body
                        last = (code, body)
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"/healthz never answered {status} (last: {last})\n{self.log_tail()}") from None

    async def wait_ready(
        self, fake: FakeDiscord, session: aiohttp.ClientSession, *, timeout: float = START_TIMEOUT
    ) -> float:
        """Wait until the fake saw READY, the commands are synced and ``/healthz`` answers 200.

        Returns the seconds since the last start (the bot's start-up time)."""
        try:
            await fake.wait_for(lambda: bool(fake.gateway.connected_sessions()) or not self.running, timeout=timeout)
            assert self.running, f"the bot exited during start-up\n{self.log_tail()}"
            await self.wait_for_line(r"commands synced count=\d+", timeout=timeout, after=self._start_index())
        except TimeoutError:
            raise AssertionError(f"the bot did not connect to the fake Discord\n{self.log_tail()}") from None
        await self.wait_health(session, 200, timeout=timeout)
        # a killed predecessor's gateway session must be gone before interactions are dispatched
        await fake.wait_for(lambda: len(fake.gateway.connected_sessions()) == 1, timeout=timeout)
        return time.monotonic() - self._started_at

    def _start_index(self) -> int:
        marker = f"----- start #{self.starts}:"
        return max(i for i, line in enumerate(self.lines) if line.startswith(marker))

    # ----------------------------------------------------------------- diagnostics
    def log_tail(self, lines: int = LOG_TAIL) -> str:
        return "----- bot log (last lines) -----\n" + "\n".join(self.lines[-lines:])

    def records(self) -> list[str]:
        """Log records: a timestamped line plus its continuation lines (tracebacks), joined by newlines."""
        records: list[str] = []
        for line in self.lines:
            if _RECORD_START.match(line) or line.startswith("----- ") or not records:
                records.append(line)
            else:
                records[-1] += "\n" + line
        return records

    def assert_clean_log(self, *, allow: Callable[[str], bool] = lambda record: False) -> None:
        """No ERROR/CRITICAL record and no traceback other than the allowed ones (``allow(record)``)."""
        bad = [
            record
            for record in self.records()
            if (_BAD_LEVEL.match(record) or "Traceback (most recent call last)" in record) and not allow(record)
        ]
        assert not bad, "unexpected errors in the bot log:\n" + "\n".join(bad) + "\n" + self.log_tail()


# --------------------------------------------------------------------- reading what the bot posted
def embeds_in(fake: FakeDiscord, channel: str) -> list[dict[str, Any]]:
    """Every embed of every visible message in ``channel``, oldest first (notifications are batched, so
    count embeds, not messages)."""
    return [embed for message in fake.messages(channel) for embed in message.get("embeds") or []]


def embed_field(embed: dict[str, Any], name: str) -> str | None:
    return next((str(f["value"]) for f in embed.get("fields") or [] if f.get("name") == name), None)


async def wait_for_embed(
    fake: FakeDiscord, channel: str, predicate: Callable[[dict[str, Any]], object], *, timeout: float = 10.0
) -> dict[str, Any]:
    """The first embed in ``channel`` matching ``predicate``."""
    try:
        found: dict[str, Any] = await fake.wait_for(
            lambda: next((e for e in embeds_in(fake, channel) if predicate(e)), None), timeout=timeout
        )
    except TimeoutError:
        titles = [e.get("title") for e in embeds_in(fake, channel)]
        raise AssertionError(f"no matching embed in #{channel}; embeds there: {titles}") from None
    return found


def final_title(rec: InteractionRecord) -> str:
    message = rec.final_message()
    if message is None:
        return ""
    return str(message["embeds"][0].get("title", "")) if message["embeds"] else str(message["content"])


async def answered(rec: InteractionRecord, needle: str = "", *, timeout: float = 10.0) -> str:
    """Wait until the interaction shows a final (not "thinking") answer containing ``needle``; its text."""

    def done(r: InteractionRecord) -> bool:
        message = r.final_message()
        loading = message is not None and message["loading"] and not r.followups
        has_answer = bool(r.followups or r.edits or (message and not message["loading"]))
        return not loading and has_answer and needle in r.all_text()

    try:
        await rec.wait_until(done, timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"no answer containing {needle!r}; got {rec.all_text()!r}") from None
    return rec.all_text()
