"""Small JPEG previews of images under the image root, made once and cached on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from kubeface.paths import PathRejected, resolve_image_path

log = logging.getLogger(__name__)


class PreviewUnavailable(Exception):
    """The file is missing, outside the root, or not a picture; the page shows a placeholder."""


class Thumbnailer:
    """Makes previews of at most `max_side` pixels. The cache key holds the file's mtime and
    size, so a replaced file gets a fresh preview; stale entries are simply never read again."""

    def __init__(self, image_root: Path, cache_dir: Path | None) -> None:
        self._root = image_root
        self._cache = cache_dir or Path(tempfile.gettempdir()) / "kubeface-thumbnails"

    def preview(self, relative_path: str, max_side: int) -> Path:
        """The cached JPEG for the file, made now if needed; PreviewUnavailable if it cannot be."""
        try:
            source = resolve_image_path(self._root, relative_path).absolute
            stat = source.stat()
        except (PathRejected, OSError) as exc:
            raise PreviewUnavailable(str(exc)) from exc
        key = f"{source}|{stat.st_mtime_ns}|{stat.st_size}|{max_side}".encode()
        digest = hashlib.sha256(key).hexdigest()
        target = self._cache / digest[:2] / f"{digest}.jpg"
        if not target.exists():
            self._render(source, target, max_side)
        return target

    def size(self, relative_path: str) -> tuple[int, int]:
        """The picture's width and height, read from its header only."""
        try:
            with Image.open(resolve_image_path(self._root, relative_path).absolute) as img:
                return img.size
        except (PathRejected, OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise PreviewUnavailable(str(exc)) from exc

    def _render(self, source: Path, target: Path, max_side: int) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with Image.open(source) as img:
                # No EXIF rotation: the recognizer's boxes are in the file's stored orientation.
                img.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale, much faster
                img.thumbnail((max_side, max_side))
                preview = img.convert("RGB")
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
            raise PreviewUnavailable(f"{source.name!r} is not a readable image: {exc}") from exc
        # Write aside and rename: a concurrent request never reads half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                preview.save(out, "JPEG", quality=82)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.debug("thumbnail made", extra={"source": source.name, "max_side": max_side})
