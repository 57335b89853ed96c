"""glibc malloc's knobs and figures, through ctypes: the one home for these calls.

glibc gives threads their own heaps ("arenas", up to 8 per core) and keeps memory freed in an
arena for that arena's later use. A service whose many threads each allocate and free a little
(gRPC's threads, worker threads, MySQL reads) so holds a growing total of free memory scattered
over many arenas: its RSS creeps up though nothing leaks (see README, "Memory over hours").
Elsewhere (musl, macOS) every function here does nothing and returns None or empty figures.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import re
import tempfile

_M_ARENA_MAX = -8  # mallopt parameter from glibc's malloc.h


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallinfo2") and hasattr(libc, "malloc_info") else None


def limit_arenas(count: int) -> bool | None:
    """Let at most `count` arenas serve every thread; 0 keeps glibc's default.

    Call it before the process starts threads: glibc fixes the limit when a thread first
    needs an arena. True when glibc took it, None where there is no glibc.
    """
    libc = _glibc()
    if libc is None or count <= 0:
        return None
    return bool(libc.mallopt(_M_ARENA_MAX, count))


def arena_count() -> int | None:
    """How many arenas this process's malloc has created (main heap included)."""
    libc = _glibc()
    if libc is None:
        return None
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile(suffix=".xml") as report:
        stream = libc.fopen(os.fsencode(report.name), b"w")
        try:
            libc.malloc_info(0, ctypes.c_void_p(stream))
        finally:
            libc.fclose(ctypes.c_void_p(stream))
        return len(re.findall(rb"<heap nr=", report.read()))


def heap_mb() -> dict[str, float]:
    """glibc's heap over all arenas: in use, free but kept, mmapped blocks, and the arenas' size."""
    libc = _glibc()
    if libc is None:
        return {}
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    mb = 1024 * 1024
    return {
        "in_use_mb": round(info.uordblks / mb, 2),
        "free_kept_mb": round(info.fordblks / mb, 2),
        "mmapped_mb": round(info.hblkhd / mb, 2),
        "arena_mb": round(info.arena / mb, 2),
    }


def trim() -> bool | None:
    """Hand the free pages of every arena back to the OS (malloc_trim(0)); True if any were."""
    libc = _glibc()
    if libc is None:
        return None
    return bool(libc.malloc_trim(0))


async def trim_every(seconds: float) -> None:
    """Trim every `seconds` until cancelled; in a worker thread, so the event loop never waits on it."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(seconds)
        await loop.run_in_executor(None, trim)
