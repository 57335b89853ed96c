"""`kubeface eval`: the tolerance measured on ../shared/faces/people with the recognizer's dlib."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.photos import SHARED_FACES
from tests.servers import kubeface_argv

PEOPLE = SHARED_FACES / "people"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kubeface_argv("eval", *args), capture_output=True, text=True, timeout=300)


def test_eval_reports_each_tolerance_a_suggestion_and_a_plot(tmp_path):
    if not PEOPLE.is_dir():
        pytest.skip(f"{PEOPLE} is absent")
    plot = tmp_path / "eval.png"
    result = _eval(str(PEOPLE), "--plot", str(plot), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    tolerances = [row["tolerance"] for row in report["tolerances"]]
    assert tolerances == [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
    assert min(tolerances) <= report["suggested"] <= max(tolerances)
    assert all(row["probes"] == len(report["probes"]) > 0 for row in report["tolerances"])
    assert plot.read_bytes().startswith(PNG_SIGNATURE)

    table = _eval(str(PEOPLE), "--no-plot")
    assert table.returncode == 0 and "suggested tolerance" in table.stdout and "false accepts" in table.stdout


def test_eval_of_one_person_or_no_photos_says_what_to_add(tmp_path):
    if not PEOPLE.is_dir():
        pytest.skip(f"{PEOPLE} is absent")
    one = tmp_path / "one"
    shutil.copytree(PEOPLE / "rose_leslie", one / "rose_leslie")
    refused = _eval(str(one), "--no-plot")
    assert refused.returncode == 1 and "at least two" in refused.stderr and "Traceback" not in refused.stderr

    (tmp_path / "empty" / "nobody").mkdir(parents=True)
    empty = _eval(str(tmp_path / "empty"), "--no-plot")
    assert empty.returncode == 1 and "no photos" in empty.stderr
