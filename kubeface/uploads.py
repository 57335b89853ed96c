"""The content-addressed store for uploaded images: type by magic bytes, name by SHA-256, atomic write.

A file is written to a temporary file in `IMAGE_ROOT/uploads/.incoming/`, fsynced, renamed to
`<sha256>.<ext>` and the directory fsynced, so a name that exists always holds the whole file,
and a crash or an aborted upload leaves at most a temporary file (`.upload-*`), never a
half-written image under a real name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kubeface.image_formats import FTYP_HEAD_BYTES, iso_bmff_type

UPLOADS_DIR = "uploads"
TEMP_PREFIX = ".upload-"
INCOMING_DIR = ".incoming"
# A temporary file untouched this long belongs to no live upload: a body that slow would have
# been cut off by the server's timeouts long before.
ABANDONED_AFTER_SECONDS = 3600.0
# The longest fixed signature below (WebP: "RIFF" + size + "WEBP"): fewer bytes are no image.
SNIFF_BYTES = 12
# HEIC and AVIF name their codec in the ftyp box's brands: the type is judged on this much.
HEAD_BYTES = FTYP_HEAD_BYTES

# Formats the recognizer decodes, by extension; the client's Content-Type and name are not trusted.
ACCEPTED_TYPES = ("jpg", "png", "gif", "webp", "bmp", "tiff", "heic", "avif")


class UploadRejected(Exception):
    """The bytes are not an image the system accepts (answered 415)."""


class UploadTooLarge(Exception):
    """The upload passed the size cap (answered 413)."""


def image_type(head: bytes) -> str | None:
    """The extension for the image format that `head` (the first HEAD_BYTES or fewer) starts, or None.

    Fewer than SNIFF_BYTES is no image: no format the recognizer reads fits in so few."""
    if len(head) < SNIFF_BYTES:
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    # BMP's signature is two letters ("BMW..." is text): its four reserved bytes must be zero too.
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    # HEIC/HEIF (iPhones' default) and AVIF: an ISO-BMFF ftyp box with a brand we decode.
    return iso_bmff_type(head[:HEAD_BYTES])


def not_an_image_message() -> str:
    return f"the file is not an accepted image; send one of: {', '.join(t.upper() for t in ACCEPTED_TYPES)}"


@dataclass(frozen=True)
class StoredUpload:
    relative_path: str  # relative to the image root, e.g. uploads/<sha256>.jpg
    size: int
    sha256: str  # hex digest of the bytes (the audit log names the upload by it)


class UploadWriter:
    """One upload being written: feed it chunks, then `commit()`, or `discard()` on any failure."""

    def __init__(self, uploads_dir: Path, incoming_dir: Path, max_bytes: int) -> None:
        self._dir = uploads_dir
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self._head = b""
        self._size = 0
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=incoming_dir)
        self._temp = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append a chunk; raises UploadTooLarge past the cap, UploadRejected once the head is no image."""
        self._size += len(chunk)
        if self._size > self._max_bytes:
            raise UploadTooLarge(f"the upload is larger than {self._max_bytes} bytes (UPLOAD_MAX_BYTES)")
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
            if len(self._head) >= HEAD_BYTES:
                self._check_type()
        self._hash.update(chunk)
        self._file.write(chunk)

    def _check_type(self) -> str:
        kind = image_type(self._head)
        if kind is None:
            raise UploadRejected(not_an_image_message())
        return kind

    def commit(self) -> StoredUpload:
        """fsync, rename to the content's name, fsync the directory; the temporary file is gone after."""
        kind = self._check_type()  # also for files shorter than HEAD_BYTES
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        name = f"{digest}.{kind}"
        # The same bytes give the same name: replacing an existing file changes nothing it holds.
        os.replace(self._temp, self._dir / name)
        _fsync_dir(self._dir)
        return StoredUpload(f"{UPLOADS_DIR}/{name}", self._size, digest)

    def discard(self) -> None:
        """Close and remove the temporary file (safe to call after commit, or twice)."""
        if not self._file.closed:
            self._file.close()
        self._temp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class UploadStore:
    """`IMAGE_ROOT/uploads/`, created on first use. Uploads are written in `uploads/.incoming/`
    (the same volume, so the rename into `uploads/` is atomic): the stored files can grow into
    millions, and the start-up sweep of abandoned ones lists only what is in flight."""

    def __init__(self, image_root: Path, max_bytes: int) -> None:
        self.directory = image_root / UPLOADS_DIR
        self.incoming = self.directory / INCOMING_DIR
        self.max_bytes = max_bytes

    def writer(self) -> UploadWriter:
        self.incoming.mkdir(parents=True, exist_ok=True)
        return UploadWriter(self.directory, self.incoming, self.max_bytes)

    def temporary_files(self) -> list[Path]:
        """Uploads being written, or left behind by a receiver that died while writing them."""
        return sorted(self.incoming.glob(f"{TEMP_PREFIX}*")) if self.incoming.is_dir() else []

    def remove_abandoned(self, older_than_seconds: float = ABANDONED_AFTER_SECONDS) -> list[str]:
        """Remove temporary files a crashed receiver left behind; the names removed.

        Only old ones: another replica sharing the volume may be writing a young one right now."""
        cutoff = time.time() - older_than_seconds
        removed = []
        for leftover in self.temporary_files():
            try:
                if leftover.lstat().st_mtime < cutoff:
                    leftover.unlink()
                    removed.append(leftover.name)
            except FileNotFoundError:
                continue  # another replica removed it first
        return removed

    def store(self, data: bytes) -> StoredUpload:
        """Store bytes already in memory (tests, small files); same rules as a streamed upload."""
        writer = self.writer()
        try:
            writer.write(data)
            return writer.commit()
        finally:
            writer.discard()
