"""How many recognizer processes "auto" starts: the CPUs a container may really use."""

from __future__ import annotations

import os

from kubeface.cpus import usable_cpus
from kubeface.settings import Settings


def test_a_cgroup_cpu_limit_caps_the_cores_seen(tmp_path):
    """A k8s pod sees every core of its node; it may only keep its limits.cpu busy."""
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # limits.cpu: 1.5
    assert usable_cpus(tmp_path) == min(2, len(os.sched_getaffinity(0)))


def test_no_cgroup_limit_means_every_core_of_the_affinity_mask(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(tmp_path) == len(os.sched_getaffinity(0))
    assert usable_cpus(tmp_path / "missing") == len(os.sched_getaffinity(0))


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cpus(tmp_path) == 1


def test_recognizer_processes_auto_is_one_per_usable_cpu():
    assert Settings(recognizer_processes="auto").resolved_recognizer_processes == usable_cpus()
    assert Settings(recognizer_processes=3).resolved_recognizer_processes == 3
    assert Settings(recognizer_connections="auto").resolved_recognizer_connections >= 8
