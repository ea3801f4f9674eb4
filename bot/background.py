"""Background tasks a service owns: started, waited for (:meth:`BackgroundTasks.drain`) and cancelled on close.

A task that fails is logged once, at ERROR with its traceback, as ``<what> task failed name=<task name>`` on
the owner's logger; the failure goes no further (the owner's maintenance pass or a restart redoes the work).
The bot's own lifetime tasks are :meth:`bot.core.ResellerBot.start_background`'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from typing import Any


class BackgroundTasks:
    """The running tasks of one owner (a set: a finished task leaves it)."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s task failed name=%s", self._what, task.get_name(), exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until the tasks started so far (and those they started) have finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel every task and wait until they have finished."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))
