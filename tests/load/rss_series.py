"""Each service's resident memory sampled over a load run, with its figures, CSV and plot."""

from __future__ import annotations

import csv
import statistics
import threading
import time
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """Samples every service's RSS once per `interval` seconds in a thread, until stopped."""

    def __init__(self, pids: dict[str, int], interval: float = 1.0) -> None:
        self.pids = pids
        self.interval = interval
        self.seconds: list[float] = []
        self.mb: dict[str, list[float]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.interval):
            self.seconds.append(round(time.monotonic() - started, 1))
            for name, pid in self.pids.items():
                self.mb[name].append(rss_mb(pid))

    def figures(self) -> dict[str, dict[str, float]]:
        """Per service: medians of the first and last thirds, the peak, and the trend after warm-up."""
        result = {}
        third = max(1, len(self.seconds) // 3)
        for name, values in self.mb.items():
            result[name] = {
                "first_mb": statistics.median(values[:third]),
                "last_mb": statistics.median(values[-third:]),
                "max_mb": max(values),
                "trend_mb_per_hour": _trend_mb_per_hour(self.seconds[third:], values[third:]),
            }
        return result

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["seconds", *(f"{name}_mb" for name in self.mb)])
            for index, second in enumerate(self.seconds):
                writer.writerow([second, *(f"{values[index]:.2f}" for values in self.mb.values())])

    def write_png(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")  # no display: a file only
        from matplotlib import pyplot

        figure, axes = pyplot.subplots(len(self.mb), 1, sharex=True, figsize=(9, 2.2 * len(self.mb)))
        minutes = [second / 60 for second in self.seconds]
        for axis, (name, values) in zip(axes, self.mb.items(), strict=True):
            axis.plot(minutes, values, linewidth=0.8)
            axis.set_ylabel(f"{name}\nRSS MB")
            axis.grid(alpha=0.3)
        axes[-1].set_xlabel("minutes into the run")
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        pyplot.close(figure)


def _trend_mb_per_hour(seconds: list[float], values: list[float], points: int = 400) -> float:
    """What a leak would add per hour after warm-up: the Theil-Sen slope (the median of the
    slopes between pairs of samples), on at most `points` evenly spaced samples.

    A leak grows steadily; a burst that raises an allocator's high-water mark once is a step,
    not a trend. Least squares read such a step (+9 MB in the recognizer at minute 23 of an hour,
    flat before and after) as 5.7 MB/hour; the median of pairwise slopes stays at 0 for one step,
    since fewer than half of the pairs straddle it (half, if it falls exactly mid-run), and
    still measures a steady rise exactly.
    """
    import numpy

    if len(seconds) < 2:
        return 0.0
    step = max(1, len(seconds) // points)
    x, y = numpy.asarray(seconds[::step]), numpy.asarray(values[::step])
    dx, dy = x[None, :] - x[:, None], y[None, :] - y[:, None]
    later = dx > 0
    return round(float(numpy.median(dy[later] / dx[later])) * 3600, 2)
