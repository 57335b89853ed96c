"""The scale bench's bulk fill (bench/scale_fill.py) makes the rows it claims, on real MariaDB.

The bench's figures mean something only if the tables hold the sizes and the status mix its
report states, and if growing a table adds rows rather than refilling it.
"""

from __future__ import annotations

import json

import pymysql

from bench.scale_fill import NO_FACE_PENDING, STATUS_MIX, add_people, grow_images, image_path
from tests.servers import TESTS_ACCOUNT


def _connect(mesh, database: str) -> pymysql.connections.Connection:
    params = {**mesh.db_params, "database": database}
    return pymysql.connect(**params, cursorclass=pymysql.cursors.DictCursor, autocommit=False)


def _one(conn, query: str, params: tuple = ()) -> dict:
    with conn.cursor() as cur:
        cur.execute(query, params or None)
        return cur.fetchone()


def test_fill_makes_the_rows_and_status_mix_asked_and_grows_without_refilling(mesh, empty_database):
    env = {**TESTS_ACCOUNT, "MYSQL_DATABASE": empty_database}
    migrated = mesh.run("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    conn = _connect(mesh, empty_database)
    try:
        person0 = add_people(conn, 10)
        grow_images(conn, 0, 1_000, person0, 10)
        counts = {
            row["status"]: row["n"]
            for row in _all(conn, "SELECT status, COUNT(*) AS n FROM images GROUP BY status")
        }
        assert counts == {status: share * 10 for status, share in STATUS_MIX}
        faces = _one(conn, "SELECT COUNT(*) AS n, COUNT(person_id) AS named FROM faces")
        pending_faced = (dict(STATUS_MIX)["PENDING"] - NO_FACE_PENDING) * 10
        assert faces == {"n": 600 + pending_faced, "named": 600}  # PROCESSED ones named
        flags = _all(
            conn,
            "SELECT status, has_faces, detail, COUNT(*) AS n, SUM(EXISTS (SELECT 1 FROM faces f"
            " WHERE f.image_id = i.id)) AS faced FROM images i GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        # Each row's flag says what `faces` holds for it; the rows with no outcome have none.
        assert [(r["status"], r["has_faces"], r["detail"], r["n"], r["faced"]) for r in flags] == [
            ("QUEUED", None, None, 30, 0),
            ("PROCESSING", None, None, 20, 0),
            ("PROCESSED", 1, None, 600, 600),
            ("PENDING", 0, "no face found", NO_FACE_PENDING * 10, 0),
            ("PENDING", 1, "no known person matched", pending_faced, pending_faced),
            ("FAILED", 0, "INVALID_ARGUMENT: not a readable image", 50, 0),
        ]
        wrong = _one(
            conn,
            "SELECT COUNT(*) AS n FROM images i JOIN faces f ON f.image_id = i.id"
            " LEFT JOIN person p ON p.id = i.person_id"
            " WHERE i.status = 'PROCESSED' AND (p.id IS NULL OR f.person_id <> i.person_id)",
        )
        assert wrong["n"] == 0  # each recognised image names a real person, as its face does
        assert _one(conn, "SELECT COUNT(*) AS n FROM person_images")["n"] == 10
        before = _one(conn, "SELECT path, updated_at FROM images WHERE id = 42")

        grow_images(conn, 1_000, 2_500, person0, 10)
        sizes = _one(
            conn, "SELECT COUNT(*) AS n, COUNT(DISTINCT path_hash) AS hashes, MAX(id) AS top FROM images"
        )
        assert sizes == {"n": 2_500, "hashes": 2_500, "top": 2_500}
        assert _one(conn, "SELECT path, updated_at FROM images WHERE id = 42") == before
        for n in (1, 42, 2_500):
            assert _one(conn, "SELECT path FROM images WHERE id = %s", (n,))["path"] == image_path(n)
        assert _one(conn, "SELECT COUNT(*) AS n FROM faces")["n"] == 2_000
    finally:
        conn.close()

    # The QUEUED and PROCESSING rows are stale work for the retry pass the bench times.
    dry_run = mesh.run("retry", "--dry-run", "--json", env=env)
    assert dry_run.returncode == 0, dry_run.stderr[-2000:]
    # The job logs to stdout too (JSON lines); its answer is the last line.
    by_reason = json.loads(dry_run.stdout.splitlines()[-1])["by_reason"]
    assert by_reason["stale_processing"] and by_reason["stale_queued"]


def _all(conn, query: str) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(query)
        return list(cur.fetchall())
