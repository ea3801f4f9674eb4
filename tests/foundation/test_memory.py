"""bot.memory: the C heap's free pages go back to the system (glibc's malloc_trim), measured on this process."""

from __future__ import annotations

import ctypes
import platform
from pathlib import Path

import pytest

from bot.memory import release_free_memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@glibc
def test_freed_heap_memory_is_given_back() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: free() alone keeps the pages (as after a busy start-up)
    blocks = [libc.malloc(32 * 1024) for _ in range(1500)]  # about 48 MB below the mmap threshold: the heap
    for block in blocks:
        ctypes.memset(block, 1, 32 * 1024)
    keep = libc.malloc(64)  # the top of the heap stays in use: only a trim can give the pages below it back
    before_free = _rss_kb()
    for block in blocks:
        libc.free(block)
    after_free = _rss_kb()
    assert after_free > before_free - 10_000, "free() kept the pages (else this test shows nothing)"
    assert release_free_memory() is True
    assert _rss_kb() < after_free - 30_000
    libc.free(keep)
    libc.mallopt(-1, 128 * 1024)  # the default again
