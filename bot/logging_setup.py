"""Logging through the standard library, formatted the way discord.py does it, written off the event loop.

A logging call only queues its record (the message merged with its arguments in the calling thread); one
listener thread formats it (traceback included) and writes it to stderr. So a slow or blocked stderr (a full
pipe to a log collector) never stalls the event loop, and the hot paths that log one line per event (every
webhook) pay only for the record, not for formatting and writing it.
"""

from __future__ import annotations

import atexit
import logging
import queue
from logging.handlers import QueueHandler, QueueListener
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


class _Listener(QueueListener):
    """A :class:`QueueListener` whose ``stop`` may be called again (the exit hook after an explicit stop)."""

    def stop(self) -> None:
        if self._thread is not None:
            super().stop()


def configure_logging(level: str, *, stream: TextIO | None = None) -> QueueListener:
    """One queue handler on the root logger; its listener writes with discord.py's formatter, one line per
    event, to ``stream`` (stderr by default). The listener is stopped (queue flushed) at exit."""
    output = logging.StreamHandler(stream)
    # discord.py picks the formatter (colour on a terminal) and sets the level on the root logger...
    discord.utils.setup_logging(handler=output, level=logging.getLevelNamesMapping()[level], root=True)
    root = logging.getLogger()
    root.removeHandler(output)  # ...but the root logger only queues; the listener thread writes
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root.addHandler(_ThreadQueueHandler(records))
    listener = _Listener(records, output, respect_handler_level=True)
    listener.start()
    atexit.register(listener.stop)
    # aiohttp's access log would print full request lines (OAuth callbacks carry codes); we log our own.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters at DEBUG (PKCE verifiers, states): never emit those.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    return listener
