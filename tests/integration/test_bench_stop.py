"""`make bench` stopped by SIGTERM (a `timeout`, a cancelled job) leaves nothing running.

With Python's default handler the process died at once, and the private MariaDB, nsqd and
services of its mesh stayed up (1.3 GB of MariaDB each time), holding their ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import REPO

pytestmark = pytest.mark.mesh


def _processes_under(folder: str) -> dict[int, str]:
    """pid: command line of each process that names `folder` in its command line (MariaDB, nsqd)
    or its environment (the services: IMAGE_ROOT, TMPDIR)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                environ = (entry / "environ").read_bytes().decode(errors="replace")
            except OSError:
                continue  # gone meanwhile
            if folder in cmdline or folder in environ:
                found[int(entry.name)] = cmdline
    return found


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short path: MariaDB's socket path must fit in 108 bytes, and pytest's
    tmp_path is long."""
    folder = Path(tempfile.mkdtemp(prefix="kf-bench-stop-", dir="/tmp"))
    yield folder
    for pid in _processes_under(str(folder)):  # what a failing run left: never for the next test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_bench_stopped_by_sigterm_stops_its_mesh(short_tmp):
    tmp_path = short_tmp
    env = {**os.environ, "TMPDIR": str(tmp_path), "BENCH_QUICK": "1"}
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", "--only", "scale", "--out", str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in bench.stderr:  # the mesh is up once the fill starts
            if "scale: growing images" in line:
                break
        assert _processes_under(str(tmp_path)), "the bench's mesh never started"
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=120) != 0
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        bench.stderr.close()
    deadline = time.monotonic() + 30  # the services drain on their own SIGTERM
    while _processes_under(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert list(_processes_under(str(tmp_path)).values()) == []
