"""bot.background.BackgroundTasks: the tasks the order service and the Crypto Pay provider run for themselves."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.background import BackgroundTasks

log = logging.getLogger("tests.background")


async def test_drain_waits_for_tasks_and_for_the_tasks_they_start() -> None:
    tasks = BackgroundTasks(log, "test")
    done: list[str] = []

    async def child() -> None:
        await asyncio.sleep(0.01)
        done.append("child")

    async def parent() -> None:
        await asyncio.sleep(0.01)
        tasks.spawn(child(), name="child")
        done.append("parent")

    task = tasks.spawn(parent(), name="parent")
    assert task.get_name() == "parent"
    assert list(tasks) == [task]
    await tasks.drain()
    assert done == ["parent", "child"]
    assert len(tasks) == 0


async def test_a_failed_task_is_logged_once_with_its_name_and_leaves_the_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = BackgroundTasks(log, "widget")

    async def broken() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        return None

    with caplog.at_level(logging.DEBUG, logger="tests.background"):
        tasks.spawn(broken(), name="widget-1")
        tasks.spawn(fine(), name="widget-2")
        await tasks.drain()
    records = [r for r in caplog.records if r.name == "tests.background"]
    assert [(r.levelname, r.getMessage()) for r in records] == [("ERROR", "widget task failed name=widget-1")]
    assert records[0].exc_info is not None
    assert str(records[0].exc_info[1]) == "boom"
    assert len(tasks) == 0


async def test_close_cancels_and_waits_and_logs_no_failure(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks(log, "test")
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = tasks.spawn(forever(), name="forever")
    await started.wait()
    with caplog.at_level(logging.DEBUG, logger="tests.background"):
        async with asyncio.timeout(5):
            await tasks.close()
    assert task.cancelled()
    assert len(tasks) == 0
    assert not [r for r in caplog.records if r.name == "tests.background"]
    await tasks.close()  # nothing left: returns at once
