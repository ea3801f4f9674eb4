"""Logging: discord.py's one-line format, written by a listener thread (never by the logging caller)."""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Iterator

import pytest

from bot.logging_setup import caller_details_used, configure_logging


class ThreadRecordingStream(io.StringIO):
    """A text stream that notes which threads wrote to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        return super().write(text)


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    switches = {name: getattr(logging, name) for name in SWITCHES}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, value in switches.items():
        setattr(logging, name, value)


SWITCHES = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


@pytest.mark.usefixtures("restore_root_logger")
def test_lines_are_formatted_and_written_by_the_listener_thread() -> None:
    stream = ThreadRecordingStream()
    listener = configure_logging("INFO", stream=stream)
    log = logging.getLogger("bot.webhooks.receiver")
    log.info("webhook accepted kind=%s unique_id=%d", "purchase", 7)
    log.debug("not at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("webhook store write failed")
    logging.getLogger("aiosqlite").debug("executing INSERT ... ('pkce-verifier',)")
    listener.stop()  # flushes the queue

    text = re.sub(r"\x1b\[[0-9;]*m", "", stream.getvalue())  # discord.py colours when it detects Docker
    words = [" ".join(line.translate(str.maketrans("[]:", "   ")).split()) for line in text.splitlines()]
    assert any("INFO bot.webhooks.receiver webhook accepted kind=purchase unique_id=7" in line for line in words)
    assert not any("not at INFO" in line for line in words)
    assert any("ERROR bot.webhooks.receiver webhook store write failed" in line for line in words)
    assert "ValueError: boom" in text  # the traceback follows its line
    assert "pkce-verifier" not in stream.getvalue()
    assert threading.current_thread().name not in stream.writers, "the logging caller never writes"
    assert logging.getLogger("aiohttp.access").level == logging.WARNING


class GatedStream(io.StringIO):
    """A text stream whose first write waits for a gate (a slow log collector), counting the writes."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.writing = threading.Event()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        self.writing.set()
        self.gate.wait(10)
        return super().write(text)


@pytest.mark.usefixtures("restore_root_logger")
def test_lines_queued_meanwhile_are_written_in_one_burst_and_stop_writes_everything() -> None:
    stream = GatedStream()
    listener = configure_logging("INFO", stream=stream)
    log = logging.getLogger("bot.webhooks.receiver")
    log.info("line 0")
    assert stream.writing.wait(10)  # the listener is stuck writing line 0
    for n in range(1, 500):
        log.info("line %d", n)  # the caller is never held up by the stuck stream
    stream.gate.set()
    listener.stop()  # writes everything still queued
    lines = [line.rsplit(" ", 2)[-2:] for line in stream.getvalue().splitlines()]
    assert lines == [["line", str(n)] for n in range(500)]  # all of them, in order
    assert stream.writes == 2, "the 499 lines queued during the stall went out in one write"
    listener.stop()  # a second stop (the exit hook) is harmless


class FailingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "poison" in record.getMessage():
            raise RuntimeError("a broken filter")
        return True


@pytest.mark.usefixtures("restore_root_logger")
def test_a_line_that_cannot_be_written_costs_only_itself(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    listener = configure_logging("INFO", stream=stream)
    listener.handler.addFilter(FailingFilter())
    log = logging.getLogger("bot.test")
    log.info("before")
    log.info("poison")
    log.info("after")
    listener.stop()
    text = stream.getvalue()
    assert "before" in text
    assert "after" in text
    assert "poison" not in text
    assert "RuntimeError: a broken filter" in capsys.readouterr().err  # reported as logging.Handler does


def _record_made_now() -> logging.LogRecord:
    """A record made by a logging call here, as a handler gets it."""
    records: list[logging.LogRecord] = []
    keeper = logging.Handler()
    keeper.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger("bot.test.details")
    log.addHandler(keeper)
    try:
        log.warning("a line")
    finally:
        log.removeHandler(keeper)
    return records[0]


@pytest.mark.usefixtures("restore_root_logger")
def test_records_do_not_collect_the_caller_thread_or_process_the_lines_do_not_show() -> None:
    assert _record_made_now().funcName == "_record_made_now"  # the standard library's default: collected
    stream = io.StringIO()
    listener = configure_logging("INFO", stream=stream)
    record = _record_made_now()
    assert record.funcName == "(unknown function)", "no findCaller() for a format that shows no caller"
    assert record.lineno == 0
    assert record.threadName is None
    assert record.processName is None
    assert record.process is None
    logging.getLogger("bot.test").info("still one line kind=%s", "purchase")
    listener.stop()
    assert "still one line kind=purchase" in stream.getvalue()


@pytest.mark.parametrize(
    ("fmt", "used"),
    [
        ("[{asctime}] [{levelname:<8}] {name}: {message}", set()),
        ("{message} ({filename}:{lineno})", {"caller"}),
        ("{funcName}: {message}", {"caller"}),
        ("{module} {message}", {"caller"}),
        ("[{threadName}] {message}", {"thread"}),
        ("{thread} {message}", {"thread"}),
        ("{process} {message}", {"process"}),
        ("{processName} {message}", {"multiprocessing"}),
    ],
)
def test_a_format_that_shows_a_detail_keeps_it(fmt: str, used: set[str]) -> None:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter(fmt, style="{"))
    assert {name for name, shown in caller_details_used(handler).items() if shown} == used


def test_a_line_shows_the_time_of_its_own_second() -> None:
    """The date text is made once per second and reused: each line still shows its own second, in the
    formatter's date format, and a line of another second (or another date format) gets its own."""
    from bot.logging_setup import _make_time_once_per_second

    plain = logging.Formatter("[{asctime}] {message}", "%Y-%m-%d %H:%M:%S", style="{")
    cached = logging.Formatter("[{asctime}] {message}", "%Y-%m-%d %H:%M:%S", style="{")
    _make_time_once_per_second(cached)
    base = 1_767_225_599.25  # 2025-12-31 23:59:59.25 UTC
    for created in (base, base + 0.5, base + 0.75, base + 1.0, base + 0.9, base + 61.0, base + 86_400.0):
        record = logging.LogRecord("bot", logging.INFO, "x", 1, "hello", None, None)
        record.created = created
        assert cached.format(record) == plain.format(record)
        assert cached.formatTime(record, "%H:%M") == plain.formatTime(record, "%H:%M")
        assert cached.formatTime(record, "%Y-%m-%d %H:%M:%S") == plain.formatTime(record, "%Y-%m-%d %H:%M:%S")


def test_the_colour_formatter_shows_each_lines_own_second_too() -> None:
    """discord.py's colour formatter (chosen on a terminal and in Docker) formats through one standard formatter
    per level: with the date made once per second, its lines are the same as without."""
    from discord.utils import _ColourFormatter

    from bot.logging_setup import _make_time_once_per_second, _TimeOncePerSecond

    plain = {level: logging.Formatter(f._fmt, f.datefmt) for level, f in _ColourFormatter.FORMATS.items()}
    colour = _ColourFormatter()
    _make_time_once_per_second(colour)
    _make_time_once_per_second(colour)  # twice (a second configure_logging): wrapped once
    assert all(isinstance(f.formatTime, _TimeOncePerSecond) for f in _ColourFormatter.FORMATS.values())
    assert not any(isinstance(f.formatTime._make, _TimeOncePerSecond) for f in _ColourFormatter.FORMATS.values())
    base = 1_767_225_599.25
    for level in (logging.INFO, logging.WARNING):
        for created in (base, base + 0.5, base + 1.0, base + 3_600.0):
            record = logging.LogRecord("bot", level, "x", 1, "hello", None, None)
            record.created = created
            assert colour.format(record) == plain[level].format(record)
