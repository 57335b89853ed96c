"""A debug-only memory report: what grew since the start, written to the log every N seconds.

Off unless MEMORY_DEBUG_SECONDS is set. Each report is one log line with the RSS, glibc's heap
(bytes in use against bytes free but kept: growth in the second is fragmentation, not a leak),
the Python heap tracemalloc sees, the lines whose allocations grew most since the first
report, and the object types whose counts grew most. Tracing costs CPU and memory: never in
production, only to find a leak (see README, "Memory over hours").
"""

from __future__ import annotations

import gc
import logging
import threading
import tracemalloc
from collections import Counter
from pathlib import Path

from kubeface.malloc import arena_count, heap_mb

log = logging.getLogger(__name__)

_TOP = 12


def _proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def rss_mb() -> float:
    return _proc_status("VmRSS") / 1024


def object_counts() -> Counter[str]:
    """Live objects the garbage collector tracks, by type name."""
    return Counter(type(obj).__qualname__ for obj in gc.get_objects())


class MemoryReporter:
    """Takes a baseline, then logs what grew against it every `interval_seconds`."""

    def __init__(self, interval_seconds: float) -> None:
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-debug", daemon=True)
        self._baseline: tracemalloc.Snapshot | None = None
        self._baseline_counts: Counter[str] = Counter()

    def start(self) -> None:
        tracemalloc.start()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        tracemalloc.stop()

    def _run(self) -> None:
        # The first report is taken after one interval, once start-up allocations are done.
        while not self._stopping.wait(self._interval):
            try:
                self.report()
            except Exception:
                log.exception("memory report failed")

    def report(self) -> dict[str, object]:
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
        )
        counts = object_counts()
        if self._baseline is None:
            self._baseline, self._baseline_counts = snapshot, counts
        stats = snapshot.compare_to(self._baseline, "lineno")
        growth = (counts - self._baseline_counts).most_common(_TOP)
        traced, _peak = tracemalloc.get_traced_memory()
        entry = {
            "rss_mb": round(rss_mb(), 2),
            "malloc": heap_mb(),
            "arenas": arena_count(),
            "threads": _proc_status("Threads"),  # glibc gives threads their own arenas
            "traced_mb": round(traced / 1024 / 1024, 2),
            "gc_objects": sum(counts.values()),
            "top_growth": [
                f"{stat.traceback[0].filename}:{stat.traceback[0].lineno} "
                f"+{stat.size_diff / 1024:.1f} KiB +{stat.count_diff}"
                for stat in stats[:_TOP]
                if stat.size_diff > 0
            ],
            "type_growth": [f"{name} +{n}" for name, n in growth],
        }
        log.info("memory report", extra=entry)
        return entry


def start_memory_reporter(interval_seconds: float) -> MemoryReporter | None:
    """Start the report thread when asked for (interval > 0); None otherwise."""
    if interval_seconds <= 0:
        return None
    reporter = MemoryReporter(interval_seconds)
    reporter.start()
    log.warning("memory debugging on: tracemalloc slows this process", extra={"every_s": interval_seconds})
    return reporter
