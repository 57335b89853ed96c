"""Small JPEG previews of images under the image root, made in bounded memory and cached on disk."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from prometheus_client import Counter

from frontend.thumbnail_cache import ThumbnailCache
from kubeface.image_files import ImageFileError, ImageFiles
from kubeface.image_formats import open_picture
from kubeface.image_limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from kubeface.orientation import decode_upright, upright_size
from kubeface.paths import PathRejected, resolve_image_path
from kubeface.settings import Settings

log = logging.getLogger(__name__)

PREVIEWS_DECODED = Counter("frontend_previews_decoded_total", "Images decoded to make a preview")
_DEFAULTS = Settings.model_fields
_PIL_ERRORS = (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError, SyntaxError)


class PreviewUnavailable(Exception):
    """The file is missing, outside the root, not a picture or too large; the page shows a placeholder."""


class Thumbnailer:
    """Makes previews of at most `max_side` pixels. The cache key holds the file's mtime and
    size, so a replaced file gets a fresh preview; stale entries age out of the cache.

    Memory is bounded: the header is checked before decoding (IMAGE_MAX_PIXELS, the recognizer's
    limit too), a JPEG is decoded at a reduced scale (DCT scaling), and the previews decoded at
    once hold at most `decode_max_pixels` pixels between them; an image that alone needs more
    gets the placeholder.
    """

    def __init__(
        self,
        image_root: Path,
        cache_dir: Path | None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        cache_max_bytes: int = _DEFAULTS["frontend_cache_max_bytes"].default,
        decode_max_pixels: int = _DEFAULTS["frontend_preview_max_pixels"].default,
    ) -> None:
        self._files = ImageFiles(image_root, max_bytes, max_pixels)
        folder = cache_dir or Path(tempfile.gettempdir()) / "kubeface-thumbnails"
        self._cache = ThumbnailCache(folder, cache_max_bytes)
        self._budget = PixelBudget(decode_max_pixels)

    @classmethod
    def from_settings(cls, settings: Settings) -> Thumbnailer:
        return cls(
            settings.resolved_image_root,
            settings.frontend_cache_dir,
            max_bytes=settings.image_max_bytes,
            max_pixels=settings.image_max_pixels,
            cache_max_bytes=settings.frontend_cache_max_bytes,
            decode_max_pixels=settings.frontend_preview_max_pixels,
        )

    @property
    def cache(self) -> ThumbnailCache:
        return self._cache

    def preview(self, relative_path: str, max_side: int) -> Path:
        """The cached JPEG for the file, made now if needed; PreviewUnavailable if it cannot be."""
        try:
            image_path = resolve_image_path(self._files.root, relative_path)
            with self._files.open(image_path) as stream:
                info = os.fstat(stream.fileno())  # of the file opened, not of whatever the name is now
                # "upright": previews cached before EXIF orientation was applied are not served again.
                key = f"upright|{image_path.absolute}|{info.st_mtime_ns}|{info.st_size}|{max_side}"
                return self._cache.get(
                    key, lambda target: self._render(stream, target, max_side, relative_path)
                )
        except (PathRejected, ImageFileError) as exc:
            raise PreviewUnavailable(str(exc)) from exc

    def preview_bytes(self, relative_path: str, max_side: int) -> bytes:
        """A JPEG preview made now and never cached on disk (enrolment photos: erasable)."""
        try:
            with self._files.open(resolve_image_path(self._files.root, relative_path)) as stream:
                out = io.BytesIO()
                self._render(stream, out, max_side, relative_path)
                return out.getvalue()
        except (PathRejected, ImageFileError) as exc:
            raise PreviewUnavailable(str(exc)) from exc

    def size(self, relative_path: str) -> tuple[int, int]:
        """The upright picture's width and height (the recognizer's boxes' frame), from the header only."""
        try:
            with self._files.open(resolve_image_path(self._files.root, relative_path)) as stream:
                with open_picture(stream) as img:  # no pixel limit: only the header is read
                    return upright_size(img, relative_path)
        except (PathRejected, ImageFileError, *_PIL_ERRORS) as exc:
            raise PreviewUnavailable(str(exc)) from exc

    def _render(self, stream, target: Path | io.BytesIO, max_side: int, name: str) -> None:
        try:
            # A bomb is refused from its header, before anything is decoded.
            with self._files.open_picture(stream) as img:
                img.draft("RGB", (max_side, max_side))  # JPEG: decode at 1/2 to 1/8 scale
                width, height = img.size  # what will be decoded, after the draft
                self._files.check_pixels(width, height, self._budget.total)
                with self._budget.hold(width * height):
                    PREVIEWS_DECODED.inc()
                    # Upright, as the recognizer sees it: its boxes are drawn over this picture.
                    picture = decode_upright(img, name)
                    picture.thumbnail((max_side, max_side))
                    preview = picture.convert("RGB")
        except ImageFileError as exc:
            raise PreviewUnavailable(f"no preview: {exc}") from exc
        except _PIL_ERRORS as exc:
            raise PreviewUnavailable(f"not a readable image: {exc}") from exc
        preview.save(target, "JPEG", quality=82)
        log.debug("thumbnail made", extra={"max_side": max_side, "decoded_pixels": width * height})


class PixelBudget:
    """At most `total` pixels decoded at once across threads; a decode waits for room."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._used = 0
        self._room = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        pixels = min(pixels, self.total)
        with self._room:
            self._room.wait_for(lambda: self._used + pixels <= self.total)
            self._used += pixels
        try:
            yield
        finally:
            with self._room:
                self._used -= pixels
                self._room.notify_all()
