"""The on-disk cache of previews: bounded in bytes, least recently used out, one maker per key."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

log = logging.getLogger(__name__)


class ThumbnailCache:
    """Files in `folder`, at most `max_bytes` in all (the k8s volume for it is 64 Mi).

    An in-process index keeps the files in least-recently-used order; it is rebuilt from the
    files' mtimes at start (a hit refreshes the mtime), so a restart keeps the order. Concurrent
    requests for one missing entry make it once: the first makes it, the others wait for it.
    """

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self._folder = folder
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._sizes: OrderedDict[Path, int] = OrderedDict()  # least recently used first
        self._total = 0
        self._making: dict[Path, Future] = {}
        self._load_index()

    @property
    def total_bytes(self) -> int:
        return self._total

    def get(self, key: str, make: Callable[[Path], None]) -> Path:
        """The entry's file, made with `make(temporary_path)` if missing; what `make` raised, if it failed."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        target = self._folder / digest[:2] / f"{digest}.jpg"
        with self._lock:
            if target in self._sizes and target.exists():
                self._sizes.move_to_end(target)
                _touch(target)
                return target
            flight = self._making.get(target)
            owner = flight is None
            if owner:
                flight = self._making[target] = Future()
        assert flight is not None  # set above, by this request or the one making it
        if not owner:
            flight.result()  # another request is making it; its error is ours too
            return target
        try:
            self._make(target, make)
            flight.set_result(target)
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        finally:
            with self._lock:
                del self._making[target]
        return target

    def _make(self, target: Path, make: Callable[[Path], None]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Made aside and renamed: a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        os.close(fd)
        try:
            make(Path(tmp))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._lock:
            self._total -= self._sizes.pop(target, 0)
            self._sizes[target] = target.stat().st_size
            self._total += self._sizes[target]
            self._evict()

    def _evict(self) -> None:
        """Drop the least recently used files until the total fits (the newest always stays)."""
        while self._total > self._max_bytes and len(self._sizes) > 1:
            oldest, size = self._sizes.popitem(last=False)
            self._total -= size
            oldest.unlink(missing_ok=True)
            log.debug("thumbnail evicted", extra={"bytes": size})

    def _load_index(self) -> None:
        found = []
        for path in self._folder.glob("*/*"):
            if path.suffix == ".tmp":  # left by a process that died while making it
                path.unlink(missing_ok=True)
            elif path.suffix == ".jpg":
                info = path.stat()
                found.append((info.st_mtime_ns, path, info.st_size))
        for _, path, size in sorted(found):
            self._sizes[path] = size
            self._total += size
        self._evict()


def _touch(path: Path) -> None:
    """Mark a hit in the file's mtime, which orders the index after a restart."""
    try:
        os.utime(path)
    except OSError as exc:  # evicted meanwhile by another process sharing the folder
        log.debug("thumbnail gone before its hit was noted: %s", exc)
