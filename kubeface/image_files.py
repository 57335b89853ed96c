"""Opening image files under the image root: never blocking, never leaving the root, bounded.

Every service that reads an image (the recognizer's Identify and Encode, its encoder of known
faces, the frontend's previews) opens it here. A path is checked by name first
(`kubeface.paths.resolve_image_path`); the file is then judged on the descriptor actually
opened, because the name may have changed in between: a FIFO posted as an image once blocked
recognizer threads forever in open(), and a file swapped for a symlink could lead anywhere.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from kubeface.image_formats import open_picture, pixels_to_decode
from kubeface.image_limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from kubeface.paths import ImagePath
from kubeface.recognition_errors import ImageMissing, ImageUnusable

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from PIL import ImageFile


# O_NONBLOCK: open() on a FIFO returns at once instead of waiting for a writer (fstat then
# refuses it). O_NOFOLLOW: a symlink is refused, not followed. O_NOCTTY: a terminal never
# becomes ours.
_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
# O_PATH: walk folders that may be searched but not listed, without reading them.
_FOLDER_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ImageFileError(Exception):
    """The file cannot be read as an image; retrying will not help."""


class ImageFileMissing(ImageFileError, ImageMissing):
    """No file at the path."""


class ImageFileRefused(ImageFileError, ImageUnusable):
    """Something is there but it must not be read: not a regular file, outside the root, too large."""


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symbolic link",
}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


@dataclass(frozen=True)
class ImageFiles:
    """The image root and the limits every reader of images applies."""

    root: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        # Resolved once: every open walks from it, and resolving costs a system call per part.
        object.__setattr__(self, "root", self.root.resolve())

    @contextmanager
    def open(self, image_path: ImagePath) -> Iterator[io.BufferedReader]:
        """The file as a buffered stream that never reads past `max_bytes`; closed on exit.

        Raises ImageFileMissing or ImageFileRefused saying why, with the client's relative path
        in the message and never the server's layout.
        """
        name = repr(image_path.relative[:200])
        fd = self._open_beneath_root(image_path, name)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ImageFileRefused(f"{name} is {_kind(info.st_mode)}, not a regular file")
            if info.st_size > self.max_bytes:
                raise ImageFileRefused(
                    f"{name} is {info.st_size} bytes, over the {self.max_bytes}-byte limit (IMAGE_MAX_BYTES)"
                )
            raw = _CappedFile(fd, self.max_bytes, name)
        except BaseException:
            os.close(fd)
            raise
        with io.BufferedReader(raw) as stream:
            yield stream

    def open_picture(self, stream: IO[bytes]) -> ImageFile.ImageFile:
        """The picture in a file `open` gave, its header read and checked against `max_pixels`
        before anything is decoded (ImageFileRefused); PIL's errors for a file that is no picture."""
        img = open_picture(stream)
        try:
            self.check_pixels(*pixels_to_decode(img, stream))
        except BaseException:
            img.close()
            raise
        return img

    def check_pixels(self, width: int, height: int, limit: int | None = None) -> None:
        """Refuse an image whose header claims more than `limit` (default `max_pixels`) pixels."""
        limit = self.max_pixels if limit is None else limit
        if width * height > limit:
            raise ImageFileRefused(f"image is {width}x{height}, over the {limit}-pixel limit")

    def _open_beneath_root(self, image_path: ImagePath, name: str) -> int:
        """Open the file by walking from the root one name at a time, following no symlink.

        `resolve_image_path` already resolved every legitimate symlink, so the walk meets one
        only if a name was swapped for a link after that check: refused, as is any link at the
        end (O_NOFOLLOW). Each step opens relative to the folder opened before it, so the walk
        cannot leave the root whatever changes meanwhile. This is openat2's RESOLVE_BENEATH |
        RESOLVE_NO_SYMLINKS done by hand: openat2 needs Linux 5.6 and is refused by some
        container seccomp profiles, while this works wherever openat does.
        """
        root = self.root
        try:
            parts = image_path.absolute.relative_to(root).parts
        except ValueError:
            raise ImageFileRefused(f"{name} is outside the image root") from None
        if not parts:
            raise ImageFileRefused(f"{name} is the image root, not a file")
        folder = os.open(root, _FOLDER_FLAGS)
        try:
            for part in parts[:-1]:
                step = self._open_at(folder, part, _FOLDER_FLAGS, name)
                os.close(folder)
                folder = step
            return self._open_at(folder, parts[-1], _FILE_FLAGS, name)
        finally:
            os.close(folder)

    @staticmethod
    def _open_at(folder: int, part: str, flags: int, name: str) -> int:
        try:
            return os.open(part, flags, dir_fd=folder)
        except OSError as exc:
            raise _open_error(exc, folder, part, name) from exc


def _open_error(exc: OSError, folder: int, part: str, name: str) -> ImageFileError:
    """The domain error for a failed open, naming what is there when it is not a file."""
    if exc.errno == errno.ENOENT:
        return ImageFileMissing(f"no file at {name}")
    try:
        mode = os.stat(part, dir_fd=folder, follow_symlinks=False).st_mode
    except OSError:
        mode = None
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO, errno.EISDIR) and mode is not None:
        if stat.S_ISLNK(mode):
            return ImageFileRefused(
                f"{name} is or goes through a symbolic link that leads to no file inside the image root"
                " (a loop of links, or a link made after the path was checked)"
            )
        if exc.errno == errno.ENOTDIR and stat.S_ISREG(mode):
            return ImageFileMissing(f"no file at {name}: a part of the path is a file, not a folder")
        return ImageFileRefused(f"{name} is {_kind(mode)}, not a regular file")
    return ImageFileRefused(f"cannot open {name}: {exc.strerror or exc}")


class _CappedFile(io.RawIOBase):
    """A file descriptor read through a hard cap: a file that grows past it is refused."""

    def __init__(self, fd: int, limit: int, name: str) -> None:
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._limit = limit
        self._name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        # None as io.RawIOBase allows, for a non-blocking file with no data; never for ours.
        room = self._limit - self._file.tell()
        view = memoryview(buffer)
        if room <= 0 and len(view):
            if self._file.read(1):
                raise ImageFileRefused(
                    f"{self._name} grew past the {self._limit}-byte limit (IMAGE_MAX_BYTES) while being read"
                )
            return 0
        return self._file.readinto(view[:room])

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()
        super().close()
