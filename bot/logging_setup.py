"""Logging through the standard library, formatted the way discord.py does it, written off the event loop.

A logging call only queues its record (the message merged with its arguments in the calling thread); one
listener thread formats it (traceback included) and writes it to stderr. So a slow or blocked stderr (a full
pipe to a log collector) never stalls the event loop, and the hot paths that log one line per event (every
webhook) pay only for the record, not for formatting and writing it.

The listener works in bursts: it takes every record waiting, writes their lines with ONE write, then rests
:data:`LINGER_SECONDS` (50 ms) before looking again. Under a sales rush it so wakes twenty times a second
instead of once per line, and each wake-up (taking the GIL from the busy event loop, a write system call)
is shared by many lines. A line reaches stderr at most that much later; nothing is dropped, and stopping
(at exit) writes everything queued. Resting 50 instead of 5 ms: the writer thread's CPU per webhook event
36-40 -> 20-22 us (3 alternating pairs, 5,000 events, load 7.5-9).

A record carries only what the line shows: the format (discord.py's) has no caller file, line or function and
no thread or process, so :func:`configure_logging` turns off what the standard library would otherwise collect
for every call (walking the caller's frames, the thread's and process's names): a call on the event loop 9.4 -> 5.9 us.
It looks at what the formatter prints (:func:`caller_details_used`), so a format that shows them keeps them.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import time
from logging.handlers import QueueHandler
from typing import TextIO

import discord


class _ThreadQueueHandler(QueueHandler):
    """Queues records for a listener thread of the same process. The stdlib handler prepares each record for
    another process (formats it, then copies it), which costs a logging call several times more; a thread only
    needs the arguments merged now (they may change after the call). Formatting happens on the listener."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg = record.message = record.getMessage()
        record.args = None
        return record


LINGER_SECONDS = 0.05
"""How long the listener rests after writing a burst of lines."""


class LogListener:
    """The thread that writes queued records through ``handler`` in bursts (see the module docstring)."""

    def __init__(self, records: queue.SimpleQueue[object], handler: logging.StreamHandler[TextIO]) -> None:
        self._records = records
        self.handler = handler
        """Where the lines go (discord.py's formatter on a stream)."""
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="log-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write everything queued, then end the thread (may be called again: the exit hook after a stop)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._records.put(_STOP)
            thread.join()

    def _serve(self) -> None:
        while True:
            burst = [self._records.get()]
            while True:
                try:
                    burst.append(self._records.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in burst
            self._write([item for item in burst if isinstance(item, logging.LogRecord)])
            if stop:
                return
            time.sleep(LINGER_SECONDS)

    def _write(self, records: list[logging.LogRecord]) -> None:
        handler = self.handler
        lines: list[str] = []
        for record in records:
            try:
                if record.levelno >= handler.level and handler.filter(record):
                    lines.append(handler.format(record) + handler.terminator)
            except Exception:  # as logging.Handler.emit does: report on stderr, carry on with the others
                handler.handleError(record)
        if not lines:
            return
        handler.acquire()
        try:
            handler.stream.write("".join(lines))
            handler.flush()
        except Exception:
            handler.handleError(records[-1])
        finally:
            handler.release()


_STOP = object()


class _TimeOncePerSecond:
    """A formatter's ``formatTime`` with a ``datefmt`` (to the second, as discord.py's is): the text is made
    once per second and reused by every line of that second (``time.strftime`` was about half of formatting a
    line on the listener thread). Only the listener thread formats, so no lock."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self._make = formatter.formatTime
        self._last: tuple[int, str | None, str] = (-1, None, "")

    def __call__(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        last_second, last_fmt, text = self._last
        if second != last_second or datefmt != last_fmt:
            text = self._make(record, datefmt)
            self._last = (second, datefmt, text)
        return text


def _make_time_once_per_second(formatter: logging.Formatter | None) -> None:
    """Install :class:`_TimeOncePerSecond` on a standard formatter whose date format has no part below the
    second (``time.strftime`` has none; without a ``datefmt`` the standard format adds milliseconds: left alone).
    discord.py's colour formatter (a terminal, or Docker) formats through one standard formatter per level, kept
    in its class's ``FORMATS``: those get it too."""
    formatters: list[object] = [formatter]
    per_level = getattr(type(formatter), "FORMATS", None)
    if isinstance(per_level, dict):
        formatters += per_level.values()
    for each in formatters:
        if (
            type(each) is logging.Formatter
            and each.datefmt
            and "%f" not in each.datefmt
            and not isinstance(each.formatTime, _TimeOncePerSecond)
        ):
            each.formatTime = _TimeOncePerSecond(each)  # type: ignore[method-assign]


_PROBE_PATH = "/\x00probe-dir/\x00probe-file.py"
_PROBE_NUMBER = 987654321


def caller_details_used(handler: logging.Handler) -> dict[str, bool]:
    """Which optional details of a record ``handler``'s formatter prints: ``caller`` (file, line, function,
    module), ``thread``, ``process`` (id or name), ``multiprocessing`` (the process name). Found by formatting
    one probe record whose details are all markers, whatever the formatter (colours, ``%`` or ``{}`` style)."""
    probe = logging.LogRecord("probe", logging.INFO, _PROBE_PATH, _PROBE_NUMBER, "probe", None, None, "\x00func")
    probe.thread, probe.threadName = _PROBE_NUMBER + 1, "\x00thread"
    probe.process, probe.processName = _PROBE_NUMBER + 2, "\x00process"
    text = handler.format(probe)
    return {
        "caller": "\x00probe" in text or "\x00func" in text or str(_PROBE_NUMBER) in text,
        "thread": "\x00thread" in text or str(_PROBE_NUMBER + 1) in text,
        "process": str(_PROBE_NUMBER + 2) in text,
        "multiprocessing": "\x00process" in text,
    }


def _collect_only_what_is_shown(handler: logging.Handler) -> None:
    """Turn off the per-record details ``handler`` does not print (process-wide: the bot has one handler)."""
    used = caller_details_used(handler)
    if not used["caller"]:
        # The documented switch (see logging/__init__.py): no findCaller() on every call. A format that shows
        # the caller keeps it; ``stack_info=True`` then has no stack either (the bot never asks for one).
        logging._srcfile = None
    logging.logThreads = used["thread"]
    logging.logProcesses = used["process"]
    logging.logMultiprocessing = used["multiprocessing"]
    if sys.version_info >= (3, 12):  # pragma: no cover - the image runs 3.11; 3.12 added the task's name
        logging.logAsyncioTasks = False


def configure_logging(level: str, *, stream: TextIO | None = None) -> LogListener:
    """One queue handler on the root logger; its listener writes with discord.py's formatter, one line per
    event, to ``stream`` (stderr by default). The listener is stopped (queue flushed) at exit."""
    output = logging.StreamHandler(stream)
    # discord.py picks the formatter (colour on a terminal) and sets the level on the root logger...
    discord.utils.setup_logging(handler=output, level=logging.getLevelNamesMapping()[level], root=True)
    root = logging.getLogger()
    root.removeHandler(output)  # ...but the root logger only queues; the listener thread writes
    _collect_only_what_is_shown(output)
    _make_time_once_per_second(output.formatter)
    records: queue.SimpleQueue[object] = queue.SimpleQueue()
    root.addHandler(_ThreadQueueHandler(records))
    listener = LogListener(records, output)
    listener.start()
    atexit.register(listener.stop)
    # aiohttp's access log would print full request lines (OAuth callbacks carry codes); we log our own.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters at DEBUG (PKCE verifiers, states): never emit those.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    return listener
