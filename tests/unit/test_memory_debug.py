"""The debug-only memory report names what grew, by line and by type."""

from __future__ import annotations

from kubeface.memory_debug import MemoryReporter, start_memory_reporter


class _Kept:
    """Stands for a per-message object that something keeps by mistake."""


def test_off_unless_asked_for():
    assert start_memory_reporter(0) is None


def test_a_report_names_the_type_and_the_line_that_grew():
    reporter = MemoryReporter(interval_seconds=3600)
    reporter.start()  # the thread waits an hour: the reports below are taken by hand
    try:
        reporter.report()  # the baseline
        kept = [_Kept() for _ in range(5000)]
        entry = reporter.report()
    finally:
        reporter.stop()
    assert f"{_Kept.__qualname__} +5000" in entry["type_growth"], entry
    assert any(__file__ in line for line in entry["top_growth"]), entry
    assert len(kept) == 5000
