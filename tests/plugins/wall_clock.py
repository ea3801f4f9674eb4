"""A wall-clock bound for every coroutine test: a test left waiting for ever fails instead of hanging the run.

Not a timing assertion: the bound is far above what any test takes (the slowest, a browser test, about 11 s on
the loaded 2-core machine); it only turns a hang into a failure. A hang is what a broken group commit does (a
caller's future never resolved: the process sleeps in the event loop, so mutmut's CPU-time limit never fires
and a mutation run waits for ever, docs/testing.md), in the test or in a fixture that writes an order.

The bound covers the test's setup, call and teardown. It is the ini option ``async_test_timeout`` (seconds,
default 120; e.g. ``-o async_test_timeout=15`` for a mutation run), or a test's or module's
``@pytest.mark.wall_clock(seconds)``. When it expires, ``SIGALRM`` interrupts the event loop's wait and the
test fails there (what pytest-timeout's signal method does, without the dependency); main thread only.
"""

from __future__ import annotations

import inspect
import signal
import threading
from collections.abc import Generator
from types import FrameType

import pytest

DEFAULT_SECONDS = 120.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "async_test_timeout",
        "wall-clock bound (seconds) of each coroutine test: a hang fails (tests/plugins/wall_clock.py)",
        default=str(DEFAULT_SECONDS),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "wall_clock(seconds): this coroutine test fails if still running after that")


def bound_of(item: pytest.Function) -> float:
    marker = item.get_closest_marker("wall_clock")
    return float(marker.args[0]) if marker is not None else float(item.config.getini("async_test_timeout"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    if (
        not isinstance(item, pytest.Function)
        or not inspect.iscoroutinefunction(item.obj)
        or threading.current_thread() is not threading.main_thread()
    ):
        return (yield)
    seconds = bound_of(item)

    def expired(signum: int, frame: FrameType | None) -> None:
        pytest.fail(f"still running after {seconds:g} s (wall clock): a hang", pytrace=False)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
