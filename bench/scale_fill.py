"""Synthetic rows for the scale section: bulk SQL from MariaDB's Sequence engine, not posts.

`images` row n (id n) is `YYYY/MM/DD/img_NNNNNNN.jpg`, taken 2 s after row n-1 from EPOCH,
so newer ids are newer photos. Its status comes from n mod 100 (STATUS_MIX); PROCESSED rows have
one face each, naming one of `people` synthetic people; of the PENDING rows, the first
NO_FACE_PENDING of every 100 rows have no face ("no face found": the retry pass after an enrolment
must not read them again and again), the others one face that matched nobody. QUEUED and
PROCESSING rows are all years old, so the retry job has stale work. Growing the table adds rows
after the last one; nothing is refilled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pymysql

# (status, rows out of every 100): mostly final, some FAILED, a few stuck in the queue.
STATUS_MIX = [("PROCESSED", 60), ("PENDING", 30), ("FAILED", 5), ("QUEUED", 3), ("PROCESSING", 2)]
# Of every 100 rows, this many are PENDING with no face (the first of the PENDING share).
NO_FACE_PENDING = 10
CHUNK = 100_000  # rows per INSERT ... SELECT: one statement, one commit
PEOPLE_PREFIX = "scale-person-"
# Well in the past, so that every QUEUED and PROCESSING row is stale (10M rows span 231 days).
EPOCH = datetime(2020, 1, 1)


def image_path(n: int) -> str:
    """The path row n gets (what the SQL below computes), for the searches the bench times."""
    taken = EPOCH + timedelta(seconds=2 * n)
    return f"{taken:%Y/%m/%d}/img_{n:07d}.jpg"


def _pending_from() -> int:
    """The first n mod 100 of the PENDING share."""
    return sum(share for status, share in STATUS_MIX[: [s for s, _ in STATUS_MIX].index("PENDING")])


def _status_case() -> str:
    arms, upto = [], 0
    for status, share in STATUS_MIX:
        upto += share
        arms.append(f"WHEN seq MOD 100 < {upto} THEN '{status}'")
    return "CASE " + " ".join(arms) + " END"


# The derived table names each row once; the outer SELECT spells the columns from it.
_ROWS = f"""
SELECT seq, {_status_case()} AS status,
       TIMESTAMP'{EPOCH:%Y-%m-%d %H:%M:%S}' + INTERVAL (2 * seq) SECOND AS ts,
       CONCAT(DATE_FORMAT(TIMESTAMP'{EPOCH:%Y-%m-%d %H:%M:%S}' + INTERVAL (2 * seq) SECOND, '%%Y/%%m/%%d'),
              '/img_', LPAD(seq, GREATEST(7, LENGTH(seq)), '0'), '.jpg') AS path
FROM seq_{{first}}_to_{{last}}
"""

# A PENDING row of the first NO_FACE_PENDING of every 100 rows has no face (`has_faces` 0).
_NO_FACE = f"(status = 'PENDING' AND seq MOD 100 < {_pending_from() + NO_FACE_PENDING})"

_INSERT_IMAGES = f"""
INSERT INTO images (id, path, path_hash, status, person_id, detail, attempts, created_at, queued_at,
                    started_at, finished_at, updated_at, has_faces, decode_ms, detect_ms, encode_ms,
                    match_ms)
SELECT seq, path, UNHEX(SHA2(path, 256)), status,
       IF(status = 'PROCESSED', %(person0)s + 1 + seq MOD %(people)s, NULL),
       CASE WHEN {_NO_FACE} THEN 'no face found'
            WHEN status = 'PENDING' THEN 'no known person matched'
            WHEN status = 'FAILED' THEN 'INVALID_ARGUMENT: not a readable image' END,
       IF(status = 'QUEUED', 0, 1), ts, ts,
       IF(status = 'QUEUED', NULL, ts + INTERVAL 1 SECOND),
       IF(status IN ('QUEUED', 'PROCESSING'), NULL, ts + INTERVAL 2 SECOND),
       ts + INTERVAL 2 SECOND,
       CASE WHEN status IN ('QUEUED', 'PROCESSING') THEN NULL WHEN status = 'FAILED' OR {_NO_FACE} THEN 0
            ELSE 1 END,
       IF(status IN ('PROCESSED', 'PENDING'), 9.0, NULL), IF(status IN ('PROCESSED', 'PENDING'), 100.0, NULL),
       IF(status IN ('PROCESSED', 'PENDING'), 40.0, NULL), IF(status IN ('PROCESSED', 'PENDING'), 0.2, NULL)
FROM ({{rows}}) AS r
"""

# One face per image flagged with faces: a PROCESSED face names its image's person; a PENDING
# face is nobody's, its nearest person too far.
_INSERT_FACES = """
INSERT INTO faces (image_id, box_top, box_right, box_bottom, box_left, person_id, distance,
                   nearest_person_id, nearest_distance, runner_up_person_id, margin)
SELECT id, 40, 140, 140, 40, person_id, IF(person_id IS NULL, NULL, 0.4),
       %(person0)s + 1 + id MOD %(people)s, IF(person_id IS NULL, 0.7, 0.4),
       %(person0)s + 1 + (id + 1) MOD %(people)s, 0.2
FROM images WHERE id BETWEEN %(first)s AND %(last)s AND has_faces = 1
"""


@dataclass
class FillStep:
    rows_before: int
    rows_after: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return (self.rows_after - self.rows_before) / self.seconds if self.seconds else float("nan")


def add_people(conn: pymysql.connections.Connection, people: int) -> int:
    """`people` synthetic people with one enrolment photo each; returns the id before the first."""
    with conn.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) AS top FROM person")
        person0 = int(_first(cur.fetchone()))
        cur.execute(
            "INSERT INTO person (id, name) SELECT %s + seq, CONCAT(%s, LPAD(seq, 4, '0'))"
            f" FROM seq_1_to_{people}",
            (person0, PEOPLE_PREFIX),
        )
        cur.execute(
            "INSERT INTO person_images (person_id, path, path_hash, created_at)"
            " SELECT id, CONCAT('people/', name, '.jpg'), UNHEX(SHA2(CONCAT('people/', name, '.jpg'), 256)),"
            " TIMESTAMP'2019-12-01 00:00:00' FROM person WHERE id > %s",
            (person0,),
        )
    conn.commit()
    return person0


def enrol_now(conn: pymysql.connections.Connection, person_id: int, label: str) -> None:
    """One more enrolment photo of `person_id`, dated now: every PENDING row with faces finished
    before it is due for the retry pass's re-identification, as after a real enrolment."""
    path = f"people/late-{label}.jpg"
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO person_images (person_id, path, path_hash, created_at)"
            " VALUES (%s, %s, UNHEX(SHA2(%s, 256)), NOW(6))",
            (person_id, path, path),
        )
    conn.commit()


def grow_images(
    conn: pymysql.connections.Connection, rows_before: int, rows_after: int, person0: int, people: int
) -> FillStep:
    """Add images rows_before+1 .. rows_after (and their faces), CHUNK rows per statement."""
    started = time.perf_counter()
    params = {"person0": person0, "people": people}
    with conn.cursor() as cur:
        # A bulk load of rows known to be unique and consistent: skip the per-row checks.
        cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        try:
            for first in range(rows_before + 1, rows_after + 1, CHUNK):
                last = min(first + CHUNK - 1, rows_after)
                cur.execute(_INSERT_IMAGES.format(rows=_ROWS.format(first=first, last=last)), params)
                cur.execute(_INSERT_FACES, {**params, "first": first, "last": last})
                conn.commit()
        finally:
            cur.execute("SET SESSION unique_checks = 1, foreign_key_checks = 1")
        cur.execute("ANALYZE TABLE images, faces")  # fresh statistics, as after a day's growth
        cur.fetchall()
    return FillStep(rows_before, rows_after, time.perf_counter() - started)


def _first(row: object) -> object:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]  # type: ignore[index]
