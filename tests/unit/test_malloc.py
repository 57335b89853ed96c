"""The processor's malloc settings: few arenas for its many threads, and freed memory handed back.

Each check runs in a fresh interpreter: glibc's arena limit is per process and fixed for good once
a thread has needed an arena, so it must not touch pytest's own process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from kubeface import malloc
from tests.servers import REPO

pytestmark = pytest.mark.skipif(malloc.heap_mb() == {}, reason="needs glibc")

# Eight threads alive at once, each allocating what malloc serves from an arena (blocks over
# pymalloc's 512 bytes), as the processor's gRPC, worker and MySQL threads do.
_PROCESSOR_START_THEN_THREADS = textwrap.dedent(
    """
    import json, threading
    from kubeface import malloc
    from kubeface.settings import load_settings
    from processor.__main__ import limit_malloc_arenas

    limit_malloc_arenas(load_settings())
    barrier = threading.Barrier(8)
    def work():
        kept = [bytearray(4096) for _ in range(256)]
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(malloc.arena_count()))
    """
)

_FRAGMENT_THEN_TRIM = textwrap.dedent(
    """
    import json, threading
    from kubeface import malloc
    from kubeface.memory_debug import rss_mb

    pinned = []
    def work():
        # 64 MB of 1 KB blocks, freed but for one in 64: the arena keeps the pages between.
        blocks = [bytearray(1024) for _ in range(64 * 1024)]
        pinned.extend(blocks[::64])
        blocks.clear()
    thread = threading.Thread(target=work)
    thread.start(); thread.join()
    before = rss_mb()
    malloc.trim()
    print(json.dumps({"before": before, "after": rss_mb()}))
    """
)


def _run(code: str, **env: str) -> object:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_processors_threads_share_two_malloc_arenas_by_default():
    assert _run(_PROCESSOR_START_THEN_THREADS) <= 2
    # The check can tell: with glibc's own default the same threads spread over more arenas.
    assert _run(_PROCESSOR_START_THEN_THREADS, PROCESSOR_MALLOC_ARENAS="0") > 2


def test_trim_hands_memory_freed_between_live_blocks_back_to_the_os():
    rss = _run(_FRAGMENT_THEN_TRIM)
    assert rss["after"] < rss["before"] - 20, rss
