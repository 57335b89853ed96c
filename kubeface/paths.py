"""Image paths as clients send them, checked to stay inside IMAGE_ROOT."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kubeface.recognition_errors import ImagePathRefused
from kubeface.text import NotStorableText, require_utf8

MAX_PATH_LENGTH = 1024
MAX_NAME_BYTES = 255  # what Linux file systems allow for one file or folder name


class PathRejected(ImagePathRefused, ValueError):
    """The path can never be served: it is malformed or leaves the image root."""


@dataclass(frozen=True)
class ImagePath:
    relative: str  # normalised, relative to the root: what the database stores
    absolute: Path  # symlinks resolved: what gets opened


def resolve_image_path(root: Path, raw: str) -> ImagePath:
    """Check a client's path and place it under `root`, or raise PathRejected saying why."""
    if not isinstance(raw, str) or not raw.strip():
        raise PathRejected("path is empty; send a file path relative to the image root")
    if len(raw) > MAX_PATH_LENGTH:
        raise PathRejected(f"path is longer than {MAX_PATH_LENGTH} characters")
    if "\x00" in raw:
        raise PathRejected("path contains a NUL byte")
    try:
        require_utf8(raw, "path")
    except NotStorableText as exc:
        raise PathRejected(str(exc)) from exc
    if "\\" in raw:
        raise PathRejected("path contains a backslash; use '/' as the separator")
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in raw.split("/")):
        raise PathRejected(f"a file or folder name in the path is longer than {MAX_NAME_BYTES} bytes")
    root = _resolved(root)
    candidate = Path(os.path.normpath(root / raw))  # an absolute `raw` replaces the root here
    if not candidate.is_relative_to(root) or candidate == root:
        raise PathRejected(f"path {raw!r} is outside the image root; send a path inside it")
    # A symlink inside the root may still point out of it; judge where it really leads.
    real = Path(os.path.realpath(candidate))
    if not real.is_relative_to(root):
        raise PathRejected(f"path {raw!r} leads outside the image root through a symbolic link")
    relative = candidate.relative_to(root).as_posix()
    if not relative.strip():  # "sub/../ " normalises to a blank name
        raise PathRejected("path names no file; send a file path relative to the image root")
    return ImagePath(relative=relative, absolute=real)


@lru_cache(maxsize=16)
def _resolved(root: Path) -> Path:
    # A service has one image root; resolving it once spares a system call per path component.
    return root.resolve()
