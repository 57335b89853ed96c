"""The soak's memory trend: a steady rise is measured, a one-off step is not a leak."""

from __future__ import annotations

import pytest

from tests.load.rss_series import _trend_mb_per_hour

SECONDS = [float(s) for s in range(0, 2400)]  # 40 minutes, one sample a second


def test_a_steady_rise_is_measured_per_hour():
    leak = [100 + 5 * s / 3600 for s in SECONDS]  # 5 MB/hour
    assert _trend_mb_per_hour(SECONDS, leak) == pytest.approx(5.0, abs=0.05)


@pytest.mark.parametrize("at", [0.2, 0.35, 0.65, 0.8])  # not mid-run, where half the pairs straddle
def test_a_single_step_up_is_no_trend(at):
    """A burst raised the allocator's high-water mark once (the soak's recognizer did, +9 MB)."""
    stepped = [265.0 if s < at * len(SECONDS) else 274.0 for s in SECONDS]
    assert _trend_mb_per_hour(SECONDS, stepped) == pytest.approx(0.0, abs=0.05)


def test_a_rise_with_dips_is_still_measured():
    leak = [100 + 4 * s / 3600 - (8 if int(s) % 600 == 0 else 0) for s in SECONDS]
    assert _trend_mb_per_hour(SECONDS, leak) == pytest.approx(4.0, abs=0.1)
