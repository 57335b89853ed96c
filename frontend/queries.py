"""The frontend's reads. Each page costs a fixed number of queries, however many rows it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def path_words_query(text: str) -> str | None:
    """The search text as a boolean full-text query over ft_images_path_words (migration 0008):
    every word (letters and digits; "_", "/", "." and the like split words) must begin a word of
    the path. None when the text has no word."""
    words = re.findall(r"[^\W_]+", text)
    return " ".join(f"+{word}*" for word in words) if words else None


def _search_ids(search: str, params: dict[str, object]) -> str:
    """The ids of images whose path has the words (the full-text index) or whose person's name
    contains the text (a scan of `person`, small; then ix_images_person): the search costs what
    it finds, not the table."""
    params["name_like"] = _like(search)
    by_name = (
        "SELECT n.id FROM person pn JOIN images n ON n.person_id = pn.id WHERE pn.name LIKE %(name_like)s"
    )
    words = path_words_query(search)
    if words is None:
        return by_name
    params["path_words"] = words
    return (
        "SELECT id FROM images WHERE MATCH (path_words) AGAINST (%(path_words)s IN BOOLEAN MODE)"
        f" UNION {by_name}"
    )


def results_sql(flt: ResultsFilter, page_size: int) -> tuple[str, dict]:
    """The page's one query, keyset on id: with no filter it walks the primary key, with a status
    ix_images_status_id, with a person ix_images_person, with a search the ids it found (sorted:
    a search costs what it matches). No OFFSET: a deep page costs the first's."""
    where: list[str] = []
    params: dict[str, object] = {"limit": page_size + 1}
    if flt.status is not None:
        where.append("i.status = %(status)s")
        params["status"] = flt.status.value
    if flt.person_id is not None:
        where.append("i.person_id = %(person_id)s")
        params["person_id"] = flt.person_id
    found = (
        f"({_search_ids(flt.search, params)}) found STRAIGHT_JOIN images i ON i.id = found.id"
        if flt.search
        else ""
    )
    newest_first = flt.after is None
    if flt.after is not None:
        where.append("i.id > %(after)s")
        params["after"] = flt.after
    elif flt.before is not None:
        where.append("i.id < %(before)s")
        params["before"] = flt.before
    # With only a status filter the optimizer may take another (status, ...) index and then sort
    # every row of that status; (status, id) walks the page in order at any table size.
    hint = (
        " FORCE INDEX (ix_images_status_id)"
        if flt.status is not None and flt.person_id is None and not flt.search
        else ""
    )
    sql = (
        "SELECT i.id, i.path, i.status, i.person_id, p.name AS person, i.detail, i.attempts, i.updated_at,"
        " i.finished_at,"
        " (SELECT COUNT(*) FROM faces f WHERE f.image_id = i.id) AS faces"
        f" FROM {found or f'images i{hint}'} LEFT JOIN person p ON p.id = i.person_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY i.id {'DESC' if newest_first else 'ASC'} LIMIT %(limit)s"
    )
    return sql, params


def results_page(db: Database, flt: ResultsFilter, page_size: int) -> ResultsPage:
    """One query for the page's rows, with person names and face counts joined in."""
    sql, params = results_sql(flt, page_size)
    newest_first = flt.after is None
    with db.transaction() as cur:
        cur.execute(sql, params)
        rows = list(cur.fetchall())
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
