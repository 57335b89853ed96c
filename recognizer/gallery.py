"""Known faces: loaded from person/person_images, cached encodings, nearest-neighbour matching."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import faiss
import numpy as np
from prometheus_client import Counter

from kubeface.db import Database
from kubeface.encodings import ENCODING_DIM, encoding_from_bytes, encodings_from_bytes
from kubeface.image_files import ImageFileError
from kubeface.paths import ImagePath, PathRejected, resolve_image_path
from kubeface.people import cache_encoding
from recognizer.faces import ImageError

log = logging.getLogger(__name__)

# Rows read per query when loading known faces.
REFRESH_PAGE_ROWS = 20_000
# How many of the one-byte scan's best the exact re-ranking considers first (a person has
# several photos: enough to hold the nearest few people and the faces just beyond them).
SCAN_CANDIDATES = 128
# The widest one-byte scan before every face is scored in float32 instead.
MAX_SCAN_CANDIDATES = 2048
# A face is scanned as one byte per component: round((x - centre) * scale) + CODE_OFFSET, the
# rounded value at most CODE_HALF_RANGE either way.
CODE_OFFSET = 128
CODE_HALF_RANGE = 127
# Rows quantised at a time when building the scan: small temporaries, no copy of the gallery.
BUILD_CHUNK_ROWS = 8192
# Added to the largest code error measured: float32 rounding in measuring it and in the
# offsets from the centre (~1e-7), taken a hundred times over.
CODE_SLACK = 1e-5

# Scans per query face, by why: "first" (each face has one), "wider" (the scan's candidates could
# not tell: near-ties or too few people), "float32" (every face scored in float32).
MATCH_SCANS = Counter("recognizer_match_scans_total", "Gallery scans per query face, by why", ["scan"])


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
    """An immutable snapshot of the known faces, held as arrays; requests read it without locks.

    Matching is exact nearest neighbour by Euclidean distance, in two steps. A scan over a
    one-byte copy of the encodings (faiss, integer SIMD: a quarter of the bytes of float32, and
    exact sums) yields the best `SCAN_CANDIDATES`. faiss compares the query's bytes with the
    faces' bytes, so a scanned distance lies within `code_error` (the furthest any face is from
    its code, measured when the gallery is built) plus the query's own rounding of the true one.
    When the last candidate scans further than the `persons`-th person by twice that, the true
    answer is among the candidates, which are re-ranked in float64 against the float32
    encodings. Otherwise (near-ties, or too few people among them) the scan widens, and past
    `MAX_SCAN_CANDIDATES`, or for a query outside the codes' range, every face is scored in
    float32.
    """

    def __init__(
        self,
        person_image_ids: np.ndarray,
        person_ids: np.ndarray,
        names: Mapping[int, str],
        encodings: np.ndarray,
    ) -> None:
        self._image_ids = np.asarray(person_image_ids, dtype=np.int64)
        self._person_ids = np.asarray(person_ids, dtype=np.int64)
        self._names = dict(names)
        self._matrix = np.ascontiguousarray(encodings, dtype=np.float32).reshape(-1, ENCODING_DIM)
        self._centre, self._scale = _code_frame(self._matrix)
        self._scan = faiss.IndexScalarQuantizer(
            ENCODING_DIM, faiss.ScalarQuantizer.QT_8bit_direct, faiss.METRIC_L2
        )
        chunks = (
            self._matrix[at : at + BUILD_CHUNK_ROWS] for at in range(0, len(self._matrix), BUILD_CHUNK_ROWS)
        )
        self._code_error = max((self._add_codes(chunk) for chunk in chunks), default=0.0)

    def _add_codes(self, rows: np.ndarray) -> float:
        """Quantise `rows` into the scan; return the largest distance from a row to its code."""
        # float32 throughout (float64 temporaries made a million faces take seconds); its
        # rounding is what CODE_SLACK covers.
        offsets = rows - self._centre.astype(np.float32)
        steps = np.clip(np.rint(offsets * np.float32(self._scale)), -CODE_HALF_RANGE, CODE_HALF_RANGE)
        self._scan.add(steps + np.float32(CODE_OFFSET))
        errors = np.linalg.norm(offsets - steps * np.float32(1 / self._scale), axis=1)
        return float(errors.max()) + CODE_SLACK if len(errors) else 0.0

    @property
    def code_error(self) -> float:
        """The largest distance between a known face's encoding and its one-byte code."""
        return self._code_error

    @classmethod
    def of(cls, faces: Sequence[KnownFace]) -> Gallery:
        return cls(
            np.array([f.person_image_id for f in faces], dtype=np.int64),
            np.array([f.person_id for f in faces], dtype=np.int64),
            {f.person_id: f.person_name for f in faces},
            np.stack([f.encoding for f in faces]) if faces else np.empty((0, ENCODING_DIM)),
        )

    def __len__(self) -> int:
        return len(self._image_ids)

    @property
    def nbytes(self) -> int:
        arrays = (self._matrix, self._image_ids, self._person_ids)
        return sum(a.nbytes for a in arrays) + self._scan.sa_code_size() * len(self)

    def nearest(self, queries: list[np.ndarray]) -> list[Match | None]:
        """The nearest known face for each query, by Euclidean distance, whatever the distance."""
        return [persons[0] if persons else None for persons in self.nearest_persons(queries, 1)]

    def nearest_persons(self, queries: list[np.ndarray], persons: int) -> list[list[Match]]:
        """For each query, its `persons` nearest distinct people (each by their nearest face),
        nearest first, exactly: the scan widens until it holds that many people and its last
        candidate is surely further than the last of them."""
        if not queries or not len(self):
            return [[] for _ in queries]
        q64 = np.stack(queries).astype(np.float64)
        return [self._persons_of(query, persons) for query in q64]

    def _persons_of(self, query: np.ndarray, persons: int) -> list[Match]:
        wanted = max(1, min(persons, len(self._names)))
        MATCH_SCANS.labels(scan="first").inc()
        code = self._query_code(query)
        k = min(SCAN_CANDIDATES, len(self))
        while code is not None:
            scaled, query_error = code
            squared, indices = self._scan.search(scaled, k)
            keep = indices[0] >= 0
            approx = np.sqrt(np.maximum(squared[0][keep], 0.0)) / self._scale
            rows = self._candidates(approx, indices[0][keep], wanted, self._code_error + query_error)
            if rows is not None:
                return self._best_persons(query, rows, wanted)
            if k >= min(len(self), MAX_SCAN_CANDIDATES):
                break
            MATCH_SCANS.labels(scan="wider").inc()
            k = min(k * 8, len(self), MAX_SCAN_CANDIDATES)
        # A crowd of near-ties, or a query outside the codes' range (their bound says nothing).
        MATCH_SCANS.labels(scan="float32").inc()
        return self._best_persons(query, self._near_ties(query, wanted), wanted)

    def _candidates(
        self, approx: np.ndarray, rows: np.ndarray, persons: int, error: float
    ) -> np.ndarray | None:
        """The scanned `rows` that may hold the exact `persons` nearest people, or None when they
        cannot tell (too few people among them, or near-ties). Each scanned distance in `approx`
        lies within `error` of the true one."""
        last_person = _distinct_rank(self._person_ids[rows], persons)
        if last_person is None:
            return rows if len(rows) == len(self) else None
        # Every face that may beat the `persons`-th person scans within `bound`; when the last
        # candidate scans further, no face beyond the candidates can.
        bound = float(approx[last_person]) + 2 * error
        if len(rows) == len(self) or approx[-1] > bound:
            return rows[approx <= bound]
        return None

    def _query_code(self, query: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The query as faiss scans it, in bytes like the known faces (faiss compares byte to byte),
        and its distance from `query`; None when a component lies outside the codes' range."""
        steps = np.rint((query - self._centre) * self._scale)
        if np.abs(steps).max() > CODE_HALF_RANGE:
            return None
        code = np.ascontiguousarray((steps + CODE_OFFSET)[None, :], dtype=np.float32)
        return code, float(np.linalg.norm(query - self._centre - steps / self._scale))

    def _near_ties(self, query: np.ndarray, persons: int) -> np.ndarray:
        """Every row within float32 rounding of the `persons`-th best person's float32 score."""
        half_sq_norms = 0.5 * np.einsum("ij,ij->i", self._matrix, self._matrix)
        scores = self._matrix @ query.astype(np.float32) - half_sq_norms  # |k - q|^2 = |q|^2 - 2 * score
        max_norm = float(np.sqrt(2 * half_sq_norms.max()))
        slack = 1e-4 * (1.0 + max_norm * float(np.linalg.norm(query)) + max_norm**2)
        order = np.argsort(-scores, kind="stable")
        last_person = _distinct_rank(self._person_ids[order], persons)
        floor = scores[order[last_person if last_person is not None else -1]]
        return np.flatnonzero(scores >= floor - slack)

    def _best_persons(self, query: np.ndarray, rows: np.ndarray, persons: int) -> list[Match]:
        exact = np.linalg.norm(self._matrix[rows].astype(np.float64) - query, axis=1)
        best: dict[int, Match] = {}
        # Ties broken by the lower person_images id, so answers never depend on scan order.
        for at in np.lexsort((self._image_ids[rows], exact)):
            index = int(rows[at])
            person_id = int(self._person_ids[index])
            if person_id not in best:
                name = self._names[person_id]
                best[person_id] = Match(person_id, name, int(self._image_ids[index]), float(exact[at]))
        return sorted(best.values(), key=lambda m: (m.distance, m.person_id))[:persons]

    def extended(self, more: Gallery) -> Gallery:
        return Gallery.joined([self, more])

    @staticmethod
    def joined(galleries: Sequence[Gallery]) -> Gallery:
        """One gallery of all the faces of `galleries`, in order; its scan is built once."""
        parts = [g for g in galleries if len(g)]
        if len(parts) <= 1:
            return parts[0] if parts else Gallery.of([])
        return Gallery(
            np.concatenate([g._image_ids for g in parts]),
            np.concatenate([g._person_ids for g in parts]),
            {pid: name for g in parts for pid, name in g._names.items()},
            np.concatenate([g._matrix for g in parts]),
        )


def simd_level() -> str:
    """The SIMD code faiss dispatches to on this CPU (AVX2, AVX512, AVX512_VPOPCNT, ... or NONE)."""
    return str(faiss.SIMDConfig.get_level_name())


def _code_frame(matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """The centre and scale of the one-byte codes: a code holds round((x - centre) * scale).
    Centred on the faces' mean (distances do not change), the bytes span the faces' spread
    around it rather than their offset from zero."""
    if not len(matrix):
        return np.zeros(ENCODING_DIM), 1.0
    centre = matrix.mean(axis=0, dtype=np.float64).astype(np.float32).astype(np.float64)
    largest = float(np.maximum(matrix.max(axis=0) - centre, centre - matrix.min(axis=0)).max())
    return centre, (CODE_HALF_RANGE / largest if largest > 0 else 1.0)


def _distinct_rank(person_ids: np.ndarray, persons: int) -> int | None:
    """The position where the `persons`-th distinct person first appears, or None if fewer do."""
    _, first = np.unique(person_ids, return_index=True)
    if len(first) < persons:
        return None
    return int(np.sort(first)[persons - 1])


class GalleryStore:
    """Keeps the current Gallery in step with the database, computing only missing encodings."""

    def __init__(self, db: Database, encode_path: Callable[[ImagePath], np.ndarray], image_root) -> None:
        self._db = db
        self._encode_path = encode_path
        self._image_root = image_root
        self._gallery = Gallery.of([])
        # faiss picks its SIMD code at run time; without AVX2 a scan of a million faces is ~15x slower.
        if simd_level() == "NONE":
            log.warning("faiss found no SIMD on this CPU: matching will be slow", extra={"simd": "NONE"})
        else:
            log.info("faiss SIMD level", extra={"simd": simd_level()})
        # Set only after the faces up to that id are in `_gallery`, so a reader taking
        # `loaded_through` first never claims more than it has.
        self._last_id = 0
        self._rows_seen = 0
        # gallery_writes.changes as last seen: renames, merges and erasures bump it (kubeface/people.py).
        self._changes_seen: int | None = None
        self._lock = threading.Lock()  # serialises refreshes, never requests

    @property
    def gallery(self) -> Gallery:
        return self._gallery

    @property
    def loaded_through(self) -> int:
        """The highest person_images id whose face is in `gallery` (never more)."""
        return self._last_id

    def refresh(self) -> int:
        """Load rows added since the last refresh (everything after a deletion or a people
        change); return how many. A full reload is built aside and swapped in whole, so requests
        meanwhile keep matching against the previous gallery, never an empty one."""
        with self._lock:
            totals, changes = self._read_totals()
            reload = self._needs_reload(totals, changes)
            if reload:
                gallery, last_id, rows_seen = Gallery.of([]), 0, 0
            else:
                gallery, last_id, rows_seen = self._gallery, self._last_id, self._rows_seen
            added, pages = 0, []
            # In pages, so that a million known faces never sit in memory as a million dicts;
            # joined once at the end, so that the scan of a million faces is built once, not per page.
            while totals["last"] > last_id:
                rows = self._rows_after(last_id)
                if not rows:
                    break
                pages.append(self._page_gallery(rows))
                last_id, rows_seen, added = rows[-1]["id"], rows_seen + len(rows), added + len(pages[-1])
            gallery = Gallery.joined([gallery, *pages])
            # Gallery first, then the id: a reader taking `loaded_through` first never claims more.
            self._gallery, self._rows_seen = gallery, rows_seen
            self._last_id = last_id
            self._changes_seen = changes  # only now: a reload cut short is tried again
            if added:
                log.info(
                    "known faces loaded",
                    extra={
                        "added": added,
                        "known_faces": len(gallery),
                        "code_error": round(gallery.code_error, 5),
                    },
                )
            return added

    def _read_totals(self) -> tuple[dict, int | None]:
        with self._db.transaction() as cur:
            # `seen`: the rows up to the last id loaded, as the table has them now. Enrolments
            # insert in id order (kubeface/people.py), but a row inserted by hand may commit
            # below an id already loaded, and rows may be deleted: either changes `seen`.
            cur.execute(
                "SELECT COALESCE(SUM(id <= %s), 0) AS seen, COALESCE(MAX(id), 0) AS last FROM person_images",
                (self._last_id,),
            )
            totals = cur.fetchone() or {"seen": 0, "last": 0}  # an aggregate always has its row
            cur.execute("SELECT changes FROM gallery_writes WHERE id = 1")
            changes = cur.fetchone()
        return totals, (int(changes["changes"]) if changes is not None else None)

    def _needs_reload(self, totals: dict, changes: int | None) -> bool:
        if self._changes_seen is not None and changes != self._changes_seen:
            log.info("known faces were renamed, merged or erased; reloading all")
            return True
        if totals["seen"] != self._rows_seen or totals["last"] < self._last_id:
            log.info(
                "known faces were removed or committed out of id order; reloading all",
                extra={"rows_now": int(totals["seen"]), "rows_loaded": self._rows_seen},
            )
            return True
        return False

    def _rows_after(self, last_id: int) -> list[dict]:
        with self._db.transaction() as cur:
            cur.execute(
                "SELECT pi.id, pi.person_id, p.name, pi.path, pi.encoding FROM person_images pi"
                " JOIN person p ON p.id = pi.person_id WHERE pi.id > %s ORDER BY pi.id LIMIT %s",
                (last_id, REFRESH_PAGE_ROWS),
            )
            return list(cur.fetchall())

    def _page_gallery(self, rows: list[dict]) -> Gallery:
        cached = [row for row in rows if row["encoding"] is not None]
        encoded = [face for face in map(self._known_face, (r for r in rows if r["encoding"] is None)) if face]
        page = Gallery(
            np.array([row["id"] for row in cached], dtype=np.int64),
            np.array([row["person_id"] for row in cached], dtype=np.int64),
            {row["person_id"]: row["name"] for row in cached},
            encodings_from_bytes([row["encoding"] for row in cached]),
        )
        return page.extended(Gallery.of(encoded))

    def _known_face(self, row: dict) -> KnownFace | None:
        if row["encoding"] is not None:
            encoding = encoding_from_bytes(row["encoding"])
        else:
            try:
                encoding = self._encode_path(resolve_image_path(self._image_root, row["path"]))
            except (ImageError, ImageFileError, PathRejected) as exc:
                log.warning(
                    "known face skipped: %s", exc, extra={"person_image_id": row["id"], "path": row["path"]}
                )
                return None
            cache_encoding(self._db, row["id"], encoding)
        return KnownFace(row["id"], row["person_id"], row["name"], encoding)
