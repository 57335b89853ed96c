"""The recognizer refuses, at start and with a clear error, a dlib built for more than this CPU has."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from kubeface import dlib_build
from kubeface.dlib_build import CpuBelowDlibLevel, check_cpu, check_installed_dlib, cpu_flags, required_level

V3_BUILD = "20.0.1+openblas.x86.64.v3"
# An x86-64-v2 CPU (e.g. Intel Westmere, or a VM that hides AVX): SSE4.2, no AVX.
V2_FLAGS = "fpu sse sse2 pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm"
# A v3 CPU: AVX2, FMA, BMI, ... and no AVX-512.
V3_FLAGS = V2_FLAGS + " avx avx2 bmi1 bmi2 f16c fma abm movbe xsave"


def cpuinfo(flags: str) -> str:
    return (
        f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n"
    )


@pytest.mark.parametrize(
    ("version", "level"),
    [
        (V3_BUILD, "x86-64-v3"),
        ("20.0.1+openblas.x86.64.v4", "x86-64-v4"),
        ("20.0.1+openblas.x86.64", "x86-64"),
        ("20.0.1.post1", None),  # dlib-bin
        ("20.0.1", None),  # a plain source build
    ],
)
def test_the_level_is_read_from_the_wheels_version(version: str, level: str | None) -> None:
    assert required_level(version) == level


def test_a_v3_build_is_refused_on_a_cpu_without_avx2_naming_what_is_missing_and_what_to_run() -> None:
    with pytest.raises(CpuBelowDlibLevel) as refused:
        check_cpu(V3_BUILD, cpu_flags(cpuinfo(V2_FLAGS)))
    message = str(refused.value)
    assert "needs an x86-64-v3 CPU" in message
    assert "lacks avx, avx2, bmi1, bmi2, f16c, fma, abm, movbe, xsave" in message
    assert "dlib-bin" in message and "DLIB_X86_64_LEVEL=x86-64-v2" in message


def test_a_v3_build_runs_on_a_v3_cpu_and_dlib_bin_on_any() -> None:
    check_cpu(V3_BUILD, cpu_flags(cpuinfo(V3_FLAGS)))
    check_cpu("20.0.1.post1", cpu_flags(cpuinfo("fpu sse sse2")))


def test_a_v4_build_needs_avx512() -> None:
    with pytest.raises(CpuBelowDlibLevel, match="lacks avx512f, avx512bw, avx512cd, avx512dq, avx512vl"):
        check_cpu("20.0.1+openblas.x86.64.v4", cpu_flags(cpuinfo(V3_FLAGS)))


def _install_fake_dlib(site: Path, version: str) -> None:
    """A dist-info as pip leaves it for a dlib wheel; nothing is imported from it."""
    info = site / f"dlib-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: dlib\nVersion: {version}\n")
    (info / "top_level.txt").write_text("_dlib_pybind11\ndlib\n")
    (info / "RECORD").write_text("")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the check reads x86-64 flags")
def test_the_installed_builds_level_is_checked_against_proc_cpuinfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_dlib(tmp_path / "site", V3_BUILD)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    old_cpu, new_cpu = tmp_path / "cpuinfo-v2", tmp_path / "cpuinfo-v3"
    old_cpu.write_text(cpuinfo(V2_FLAGS))
    new_cpu.write_text(cpuinfo(V3_FLAGS))
    assert V3_BUILD in dlib_build.installed_dlib_versions()
    with pytest.raises(CpuBelowDlibLevel, match="lacks avx, avx2"):
        check_installed_dlib(old_cpu)
    check_installed_dlib(new_cpu)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the check reads x86-64 flags")
def test_the_recognizers_detector_refuses_to_load_such_a_dlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubeface.settings import DetectionModel
    from recognizer.faces import FaceDetector

    _install_fake_dlib(tmp_path / "site", V3_BUILD)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    monkeypatch.setattr(dlib_build, "cpu_flags", lambda _text: set(V2_FLAGS.split()))
    with pytest.raises(CpuBelowDlibLevel, match="needs an x86-64-v3 CPU"):
        FaceDetector(DetectionModel.HOG, 1, 1280)
