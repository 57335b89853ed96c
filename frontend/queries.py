"""The frontend's reads. Each page costs a fixed number of queries, however many rows it shows."""

from __future__ import annotations

from dataclasses import dataclass

from frontend.search import MAX_SECONDS, WINDOW, page_order, range_conditions, search_ids
from kubeface.db import Database
from kubeface.images import ImageStatus


@dataclass(frozen=True)
class ResultsFilter:
    status: ImageStatus | None = None
    search: str | None = None
    before: int | None = None  # keyset cursor: rows with smaller ids (older)
    after: int | None = None  # rows with larger ids (newer)
    person_id: int | None = None


@dataclass(frozen=True)
class ResultsPage:
    rows: list[dict]
    has_older: bool
    has_newer: bool


def results_sql(flt: ResultsFilter, page_size: int, ids: list[int] | None = None) -> tuple[str, dict]:
    """The page's one query, keyset on id: with no filter it walks the primary key, with a status
    ix_images_status_id, with a person ix_images_person; with `ids` (a search's, frontend/search.py)
    it reads those rows by primary key. No OFFSET: a deep page costs the first's."""
    params: dict[str, object] = {"limit": page_size + 1}
    where = range_conditions(flt, params)
    if ids is not None:
        where.append("i.id IN %(ids)s")
        params["ids"] = tuple(ids)
    # With only a status filter the optimizer may take another (status, ...) index and then sort
    # every row of that status; (status, id) walks the page in order at any table size.
    hint = (
        " FORCE INDEX (ix_images_status_id)"
        if flt.status is not None and flt.person_id is None and ids is None
        else ""
    )
    sql = (
        "SELECT i.id, i.path, i.status, i.person_id, p.name AS person, i.detail, i.attempts, i.updated_at,"
        " i.finished_at,"
        " (SELECT COUNT(*) FROM faces f WHERE f.image_id = i.id) AS faces"
        f" FROM images i{hint} LEFT JOIN person p ON p.id = i.person_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY i.id {page_order(flt)} LIMIT %(limit)s"
    )
    return sql, params


def _page_rows(
    db: Database, flt: ResultsFilter, page_size: int, search_window: int, search_max_seconds: float
) -> list[dict]:
    with db.transaction() as cur:
        ids = None
        if flt.search:
            ids = search_ids(cur, flt, flt.search, page_size + 1, search_window, search_max_seconds)
            if not ids:
                return []
        cur.execute(*results_sql(flt, page_size, ids))
        return list(cur.fetchall())


def results_page(
    db: Database,
    flt: ResultsFilter,
    page_size: int,
    search_window: int = WINDOW,
    search_max_seconds: float = MAX_SECONDS,
) -> ResultsPage:
    """The page's rows, with person names and face counts joined in: one query, or with a search
    its ids first (frontend/search.py, a few queries bounded by the page and `search_window`)."""
    newest_first = flt.after is None
    rows = _page_rows(db, flt, page_size, search_window, search_max_seconds)
    more = len(rows) > page_size
    rows = rows[:page_size]
    if newest_first:
        return ResultsPage(rows, has_older=more, has_newer=flt.before is not None)
    rows.reverse()
    return ResultsPage(rows, has_older=True, has_newer=more)


def person_page(db: Database, person_id: int, limit: int) -> dict | None:
    """The person, their enrolled photos, and the images where they were recognised."""
    with db.transaction() as cur:
        cur.execute("SELECT id, name, created_at FROM person WHERE id = %s", (person_id,))
        person = cur.fetchone()
        if person is None:
            return None
        cur.execute(
            "SELECT id, path, encoded, created_at FROM person_images WHERE person_id = %s ORDER BY id",
            (person_id,),
        )
        person["photos"] = list(cur.fetchall())
        cur.execute(
            "SELECT id, path, status, updated_at FROM images WHERE person_id = %s ORDER BY id DESC LIMIT %s",
            (person_id, limit),
        )
        person["images"] = list(cur.fetchall())
    return person


def people(db: Database) -> list[dict]:
    with db.transaction() as cur:
        cur.execute(
            "SELECT p.id, p.name,"
            " (SELECT COUNT(*) FROM person_images pi WHERE pi.person_id = p.id) AS photos,"
            # The counters (kubeface/images/counts.py), not a count of each person's images.
            " (SELECT COALESCE(SUM(c.n), 0) FROM person_image_counts c WHERE c.person_id = p.id) AS images"
            " FROM person p ORDER BY p.name"
        )
        return list(cur.fetchall())


def person_names(db: Database, limit: int) -> list[dict]:
    """Ids and names, by name: the choice of whom to add a face to."""
    with db.transaction() as cur:
        cur.execute("SELECT id, name FROM person ORDER BY name LIMIT %s", (limit,))
        return list(cur.fetchall())


def image_path(db: Database, image_id: int) -> str | None:
    with db.transaction() as cur:
        cur.execute("SELECT path FROM images WHERE id = %s", (image_id,))
        row = cur.fetchone()
    return row["path"] if row else None


def photo_path(db: Database, person_image_id: int) -> str | None:
    with db.transaction() as cur:
        cur.execute("SELECT path FROM person_images WHERE id = %s", (person_image_id,))
        row = cur.fetchone()
    return row["path"] if row else None
