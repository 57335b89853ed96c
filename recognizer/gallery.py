"""Known faces: loaded from person/person_images, cached encodings, nearest-neighbour matching."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kubeface.db import Database
from kubeface.paths import PathRejected, resolve_image_path
from recognizer.faces import ImageError

log = logging.getLogger(__name__)

ENCODING_DIM = 128


@dataclass(frozen=True)
class Match:
    person_id: int
    person_name: str
    person_image_id: int
    distance: float


@dataclass(frozen=True)
class KnownFace:
    person_image_id: int
    person_id: int
    person_name: str
    encoding: np.ndarray


class Gallery:
    """An immutable snapshot of the known faces; requests read it without locks."""

    def __init__(self, faces: list[KnownFace]) -> None:
        self.faces = tuple(faces)
        if faces:
            self._matrix = np.stack([f.encoding for f in faces]).astype(np.float64)
        else:
            self._matrix = np.empty((0, ENCODING_DIM))
        self._sq_norms = np.einsum("ij,ij->i", self._matrix, self._matrix)

    def __len__(self) -> int:
        return len(self.faces)

    def nearest(self, queries: list[np.ndarray]) -> list[Match | None]:
        """The nearest known face for each query, by Euclidean distance, whatever the distance."""
        if not queries or not self.faces:
            return [None] * len(queries)
        q = np.stack(queries).astype(np.float64)
        # |k - q|^2 = |k|^2 + |q|^2 - 2 k.q, over all known faces at once.
        squared = self._sq_norms[None, :] + np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * (q @ self._matrix.T)
        best = np.argmin(squared, axis=1)
        matches = []
        for row, index in enumerate(best):
            face = self.faces[index]
            distance = float(np.sqrt(max(squared[row, index], 0.0)))
            matches.append(Match(face.person_id, face.person_name, face.person_image_id, distance))
        return matches

    def extended(self, more: list[KnownFace]) -> Gallery:
        return Gallery([*self.faces, *more]) if more else self


def encoding_to_bytes(encoding: np.ndarray) -> bytes:
    return np.asarray(encoding, dtype="<f8").tobytes()


def encoding_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f8").copy()


class GalleryStore:
    """Keeps the current Gallery in step with the database, computing only missing encodings."""

    def __init__(self, db: Database, encode_path: Callable[[str], np.ndarray], image_root) -> None:
        self._db = db
        self._encode_path = encode_path
        self._image_root = image_root
        self._gallery = Gallery([])
        self._last_id = 0
        self._rows_seen = 0
        self._lock = threading.Lock()  # serialises refreshes, never requests

    @property
    def gallery(self) -> Gallery:
        return self._gallery

    def refresh(self) -> int:
        """Load rows added since the last refresh (everything after a deletion); return how many."""
        with self._lock:
            with self._db.transaction() as cur:
                cur.execute("SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS last FROM person_images")
                totals = cur.fetchone()
            if totals["n"] < self._rows_seen or totals["last"] < self._last_id:
                log.info("known faces were removed; reloading all")
                self._gallery, self._last_id, self._rows_seen = Gallery([]), 0, 0
            if totals["last"] == self._last_id:
                return 0
            with self._db.transaction() as cur:
                cur.execute(
                    "SELECT pi.id, pi.person_id, p.name, pi.path, pi.encoding FROM person_images pi"
                    " JOIN person p ON p.id = pi.person_id WHERE pi.id > %s ORDER BY pi.id",
                    (self._last_id,),
                )
                rows = cur.fetchall()
            added = [face for face in (self._known_face(row) for row in rows) if face is not None]
            if rows:
                self._last_id = rows[-1]["id"]
                self._rows_seen += len(rows)
            self._gallery = self._gallery.extended(added)
            log.info("known faces loaded", extra={"added": len(added), "known_faces": len(self._gallery)})
            return len(added)

    def _known_face(self, row: dict) -> KnownFace | None:
        if row["encoding"] is not None:
            encoding = encoding_from_bytes(row["encoding"])
        else:
            try:
                resolved = resolve_image_path(self._image_root, row["path"])
                encoding = self._encode_path(resolved.absolute)
            except (ImageError, PathRejected) as exc:
                log.warning(
                    "known face skipped: %s", exc, extra={"person_image_id": row["id"], "path": row["path"]}
                )
                return None
            with self._db.transaction() as cur:
                cur.execute(
                    "UPDATE person_images SET encoding = %s WHERE id = %s AND encoding IS NULL",
                    (encoding_to_bytes(encoding), row["id"]),
                )
        return KnownFace(row["id"], row["person_id"], row["name"], encoding)
