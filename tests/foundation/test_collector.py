"""bot.collector: after start-up, its garbage is collected, the survivors frozen, young objects collected less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.collector import YOUNG_THRESHOLD, settle_after_start_up


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """A reference cycle no one holds: only the cyclic collector can free it; a weak reference to watch it."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.disable()  # no automatic collection may free a cycle before the test looks
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.enable()


@pytest.mark.usefixtures("restored_collector")
def test_start_up_garbage_is_collected_and_the_survivors_frozen() -> None:
    before = _cycle()
    kept = [_Node() for _ in range(100)]
    assert before() is not None
    frozen = settle_after_start_up()
    assert before() is None, "start-up's garbage was frozen with the rest instead of collected"
    assert frozen == gc.get_freeze_count() > len(kept)
    tracked = {id(obj) for obj in gc.get_objects()}  # every generation but the permanent one
    assert not tracked & {id(node) for node in kept}


@pytest.mark.usefixtures("restored_collector")
def test_later_cycles_are_still_collected_and_young_objects_less_often() -> None:
    _, older, oldest = gc.get_threshold()
    settle_after_start_up()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, older, oldest)
    assert YOUNG_THRESHOLD > 700  # CPython's default
    later = _cycle()
    assert later() is not None
    gc.collect()
    assert later() is None


def test_settling_logs_one_line(restored_collector: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot.collector")
    frozen = settle_after_start_up()
    assert [record.getMessage() for record in caplog.records] == [
        f"garbage collector settled frozen={frozen} young_threshold={YOUNG_THRESHOLD}"
    ]
