"""A wall-clock bound for every coroutine test: a test left waiting for ever fails instead of hanging the run.

Not a timing assertion: the bound is far above what any test takes (the slowest, a browser test, about 11 s on
the loaded 2-core machine); it only turns a hang into a failure. A hang is what a broken group commit does (a
caller's future never resolved: the process sleeps in the event loop, so mutmut's CPU-time limit never fires
and a mutation run waits for ever, docs/testing.md). The bound is the ini option ``async_test_timeout``
(seconds, default 120; e.g. ``-o async_test_timeout=15`` for a mutation run), or a test's or module's
``@pytest.mark.wall_clock(seconds)``. Tests run through Hypothesis are not bounded here.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine, Generator
from typing import Any

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


def bounded(test: Callable[..., Coroutine[Any, Any, Any]], seconds: float) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``test`` failing once it has run ``seconds`` (wall clock); in the test's own task, so nothing else changes."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        limit = asyncio.timeout(seconds)
        try:
            async with limit:
                return await test(*args, **kwargs)
        except TimeoutError:
            if not limit.expired():
                raise  # the test's own
        pytest.fail(f"still running after {seconds:g} s (wall clock): a hang", pytrace=False)

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    if not isinstance(item, pytest.Function) or not inspect.iscoroutinefunction(item.obj):
        return (yield)
    test = item.obj
    item.obj = bounded(test, bound_of(item))
    try:
        return (yield)
    finally:
        item.obj = test
