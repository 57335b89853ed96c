"""Which x86-64 level the installed dlib was compiled for, checked against this CPU before dlib loads.

`tools/build-dlib-openblas.sh` compiles dlib with `-march=x86-64-v3` (its HOG detector runs about
2.3x faster with AVX2 and FMA) and writes the level into the wheel's version, as a local label:
`20.0.1+openblas.x86.64.v3`. dlib itself only prints a warning on a CPU without the instructions
it was built with, then dies of SIGILL at the first detection; reading the level from the package
metadata, before importing dlib, turns that into an error that says what to do. dlib-bin and other
builds carry no level: they need only what any x86-64 CPU has.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

# The CPU flags each x86-64 micro-architecture level adds (psABI), as /proc/cpuinfo names them
# (pni is SSE3, abm is LZCNT).
_V2 = ("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3")
_V3 = ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")
_V4 = ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
LEVEL_FLAGS: dict[str, tuple[str, ...]] = {
    "x86-64": (),
    "x86-64-v2": _V2,
    "x86-64-v3": _V2 + _V3,
    "x86-64-v4": _V2 + _V3 + _V4,
}

_LEVEL_LABEL = re.compile(r"\+(?:.*\.)?(x86\.64(?:\.v[234])?)$")


class CpuBelowDlibLevel(RuntimeError):
    """The installed dlib needs instructions this CPU lacks: it would crash at the first image."""


def required_level(version: str) -> str | None:
    """The x86-64 level a dlib version's local label names ('20.0.1+openblas.x86.64.v3' ->
    'x86-64-v3'), or None for a build that names none."""
    found = _LEVEL_LABEL.search(version)
    return found.group(1).replace(".", "-") if found else None


def cpu_flags(cpuinfo: str) -> set[str]:
    """The flags of the first processor in /proc/cpuinfo's text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def check_cpu(dlib_version: str, flags: set[str]) -> None:
    """CpuBelowDlibLevel, saying what is missing and what to run instead, unless a CPU with
    `flags` has every instruction the dlib build `dlib_version` was compiled for."""
    level = required_level(dlib_version)
    if level is None:
        return
    if level not in LEVEL_FLAGS:
        raise CpuBelowDlibLevel(f"dlib {dlib_version} names an unknown x86-64 level {level!r}")
    missing = [flag for flag in LEVEL_FLAGS[level] if flag not in flags]
    if missing:
        raise CpuBelowDlibLevel(
            f"this build of dlib ({dlib_version}) needs an {level} CPU; this CPU lacks "
            f"{', '.join(missing)}. Run the dlib-bin image (make image, or --build-arg DLIB=bin), "
            "or build dlib for this CPU's level: DLIB_X86_64_LEVEL=x86-64-v2 make dlib-openblas"
        )


def installed_dlib_versions() -> list[str]:
    """The versions of every installed distribution that provides dlib's compiled module (its
    top_level.txt may name only `_dlib_pybind11`, as dlib-bin's does)."""
    provides = importlib.metadata.packages_distributions()
    names = {*provides.get("_dlib_pybind11", ()), *provides.get("dlib", ())}
    return [importlib.metadata.version(name) for name in sorted(names)]


def check_installed_dlib(cpuinfo: Path = Path("/proc/cpuinfo")) -> None:
    """Before dlib is imported: CpuBelowDlibLevel when the installed dlib needs more than this
    CPU has. Only x86-64 Linux reports flags; elsewhere no wheel of ours carries a level."""
    if platform.machine() not in ("x86_64", "AMD64") or not cpuinfo.exists():
        return
    flags = cpu_flags(cpuinfo.read_text())
    for version in installed_dlib_versions():
        check_cpu(version, flags)
