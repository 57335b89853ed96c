"""The search box (`/?q=…`): the ids of one page of images whose path has the words, or whose
person's name contains the text, at a cost bounded by the page and a window, not by the table.

A word is a run of letters and digits ("_", "/", "." and the like split words); every word must
begin a word of the path (`path_words`, migration 0008: the path with "_" as a space). Matches
are case-sensitive, as the utf8mb4_bin collation of `images` and `person` makes them.

The path branch, in at most two queries (`search_ids`):
1. The window: the `window` newest rows of the page's range (status, person and cursor applied),
   walked by an index in order, each word tried by REGEXP. If that fills the page, or the range
   holds no more rows, it is the answer: a search for a common word ("img", "2026") costs the
   window, at any table size.
2. Otherwise the full-text index is asked for the one word that was rarest in the window (a word
   absent from it is best) and the other words filter the rows it returns: "img_0004242" asks the
   index for "0004242*" only. InnoDB reads the whole posting list of every term it is given, so
   leaving the common words out is what keeps the cost to what the search finds.

What remains slow: every word common in the window but their combination rare, or older rows
unlike the newest: then the rarest word's whole posting list is read, a share of the table. The
same when the only rare words are shorter than innodb_ft_min_token_size (3), which the index does
not hold ("img zz": the index is asked for "img"). A search made only of such short words asks
the index for all of them, and past the window finds only longer words beginning with them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pymysql

from frontend.params import BadParameter

if TYPE_CHECKING:
    from pymysql.cursors import DictCursor

    from frontend.queries import ResultsFilter

WINDOW = 5_000  # the default of Settings.frontend_search_window
MAX_SECONDS = 2.0  # the default of Settings.frontend_search_max_seconds
# A statement stopped at max_statement_time: MariaDB's ER_STATEMENT_TIMEOUT, or, when InnoDB's
# full-text search is the one interrupted, the engine's HA_ERR_ABORTED_BY_USER.
_STOPPED_AT_TIME_LIMIT = frozenset({1969, 188})
_WORD = re.compile(r"[^\W_]+")
# InnoDB's default innodb_ft_min_token_size: shorter words are not in the full-text index.
MIN_INDEXED_CHARS = 3


def search_words(text: str) -> list[str]:
    """The words of the search text, each once, in order; a word that begins another word of the
    text is left out (whatever has the longer one has it too)."""
    words = list(dict.fromkeys(_WORD.findall(text)))
    return [w for w in words if not any(o != w and o.startswith(w) for o in words)]


def fulltext_query(words: list[str]) -> str:
    """The words as a boolean full-text query over ft_images_path_words: each must begin a word of
    the path. Words are letters and digits only, so no full-text operator of the user's reaches
    MariaDB."""
    return " ".join(f"+{word}*" for word in words)


def word_regexp(word: str) -> str:
    """A REGEXP (PCRE) true when a word of the path begins with `word`: no letter or digit
    before it. \\Q…\\E quotes the word (it holds no backslash, so no \\E)."""
    return r"(?<![\p{L}\p{N}])\Q" + word + r"\E"


def range_conditions(flt: ResultsFilter, params: dict[str, Any]) -> list[str]:
    """The page's range on `images i`: status, person and keyset cursor."""
    where: list[str] = []
    if flt.status is not None:
        where.append("i.status = %(status)s")
        params["status"] = flt.status.value
    if flt.person_id is not None:
        where.append("i.person_id = %(person_id)s")
        params["person_id"] = flt.person_id
    if flt.after is not None:
        where.append("i.id > %(after)s")
        params["after"] = flt.after
    elif flt.before is not None:
        where.append("i.id < %(before)s")
        params["before"] = flt.before
    return where


def page_order(flt: ResultsFilter) -> str:
    """The page's id order: newest first, oldest first after an `after` cursor."""
    return "ASC" if flt.after is not None else "DESC"


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def window_sql(flt: ResultsFilter, words: list[str], window: int, limit: int) -> tuple[str, dict]:
    """The window's query, one row: `examined` (rows in the window), `hits_k` (rows where word k
    matched) and `found`, the ids of up to `limit` rows where every word matched, in page order,
    comma-separated (NULL for none). Aggregates, not window functions: those re-read their
    temporary table several times a row."""
    params: dict[str, Any] = {"window": window, "limit": limit}
    tried = []
    for k, word in enumerate(words):
        params[f"re_{k}"] = word_regexp(word)
        tried.append(f"(i.path_words REGEXP %(re_{k})s) AS h_{k}")
    hint = " FORCE INDEX (ix_images_status_id)" if flt.status is not None and flt.person_id is None else ""
    inner = (
        f"SELECT i.id, {', '.join(tried)} FROM images i{hint}{_where(range_conditions(flt, params))}"
        f" ORDER BY i.id {page_order(flt)} LIMIT %(window)s"
    )
    hits = "".join(f", SUM(w.h_{k}) AS hits_{k}" for k in range(len(words)))
    every = " AND ".join(f"w.h_{k}" for k in range(len(words)))
    sql = (
        f"SELECT COUNT(*) AS examined{hits}, GROUP_CONCAT(IF({every}, w.id, NULL)"
        f" ORDER BY w.id {page_order(flt)} SEPARATOR ',' LIMIT %(limit)s) AS found FROM ({inner}) w"
    )
    return sql, params


def path_sql(flt: ResultsFilter, words: list[str], indexed: list[str], limit: int) -> tuple[str, dict]:
    """The page's matches found by the full-text index for the `indexed` words only; every word
    is then checked by REGEXP on the rows the index returned."""
    params: dict[str, Any] = {"limit": limit, "fts": fulltext_query(indexed)}
    where = ["MATCH (i.path_words) AGAINST (%(fts)s IN BOOLEAN MODE)"]
    where += range_conditions(flt, params)
    for k, word in enumerate(words):
        params[f"re_{k}"] = word_regexp(word)
        where.append(f"i.path_words REGEXP %(re_{k})s")
    return f"SELECT i.id FROM images i{_where(where)} ORDER BY i.id {page_order(flt)} LIMIT %(limit)s", params


def _rarest(words: list[str], row: dict) -> list[str]:
    """The word to ask the index for: the fewest window hits, then the longest. Words too short
    to be in the index are never asked alone; if every word is, all of them are asked."""
    indexed = [k for k, w in enumerate(words) if len(w) >= MIN_INDEXED_CHARS]
    if not indexed:
        return words
    best = min(indexed, key=lambda k: (int(row[f"hits_{k}"]), -len(words[k])))
    return [words[best]]


def _path_ids(
    cur: DictCursor, flt: ResultsFilter, words: list[str], limit: int, window: int, max_seconds: float
) -> list[int]:
    """Up to `limit` ids whose path has every word, in page order (see the module's doc)."""
    cur.execute(*window_sql(flt, words, window, limit))
    seen = cur.fetchone()
    found = [int(n) for n in seen["found"].split(",")] if seen and seen["found"] else []
    if not seen or len(found) >= limit or int(seen["examined"]) < window:
        return found
    rarest = _rarest(words, seen)
    sql, params = path_sql(flt, words, rarest, limit)
    params["max_seconds"] = max_seconds
    try:
        # The slow cases (see the module's doc) read a share of the table: stopped, not left to
        # hold a connection and a core for as long as the table is large.
        cur.execute(f"SET STATEMENT max_statement_time = %(max_seconds)s FOR {sql}", params)
    except (pymysql.err.OperationalError, pymysql.err.InternalError) as exc:
        if exc.args[0] not in _STOPPED_AT_TIME_LIMIT:
            raise
        raise BadParameter(
            "q",
            f"took longer than {max_seconds:g} s to search: its words are in most paths (words of 1 or"
            " 2 characters are not indexed). Add a rarer word of 3 or more letters or digits, or"
            " filter by status.",
        ) from exc
    return [int(row["id"]) for row in cur.fetchall()]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _name_ids(cur: DictCursor, flt: ResultsFilter, text: str, limit: int) -> list[int]:
    """Up to `limit` ids of images of the people whose name contains the text, in page order.
    `person` is scanned (it is small); then the images are walked in order with the LIMIT, by the
    cheaper of two indexes (see `_by_status`), so that a person with 10,000 images costs a page,
    not a sort of them all."""
    cur.execute("SELECT id FROM person WHERE name LIKE %s", (_like(text),))
    people = [int(row["id"]) for row in cur.fetchall()]
    if not people:
        return []
    params: dict[str, Any] = {"limit": limit, "people": tuple(people)}
    where = range_conditions(flt, params)
    if _by_status(cur, flt, people):
        sql = (
            f"SELECT i.id FROM images i FORCE INDEX (ix_images_status_id)"
            f"{_where(['i.person_id IN %(people)s', *where])} ORDER BY i.id {page_order(flt)} LIMIT %(limit)s"
        )
    else:
        parts = []
        for k, person in enumerate(people):
            params[f"p_{k}"] = person
            parts.append(
                f"(SELECT i.id FROM images i{_where([f'i.person_id = %(p_{k})s', *where])}"
                f" ORDER BY i.id {page_order(flt)} LIMIT %(limit)s)"
            )
        sql = f"{' UNION ALL '.join(parts)} ORDER BY id {page_order(flt)} LIMIT %(limit)s"
    cur.execute(sql, params)
    return [int(row["id"]) for row in cur.fetchall()]


def _by_status(cur: DictCursor, flt: ResultsFilter, people: list[int]) -> bool:
    """With a status filter, whether to walk ix_images_status_id (at most the rows of that status)
    rather than each person's images by ix_images_person (at most all of theirs, when few have
    the status): the smaller bound, read from the counters (kubeface/images/counts.py)."""
    if flt.status is None or flt.person_id is not None:
        return False
    cur.execute(
        "SELECT (SELECT COALESCE(SUM(n), 0) FROM image_counts WHERE status = %s) AS by_status,"
        " (SELECT COALESCE(SUM(n), 0) FROM person_image_counts WHERE person_id IN %s) AS by_person",
        (flt.status.value, tuple(people)),
    )
    row = cur.fetchone()
    return row is not None and int(row["by_status"]) < int(row["by_person"])


def search_ids(
    cur: DictCursor,
    flt: ResultsFilter,
    text: str,
    limit: int,
    window: int = WINDOW,
    max_seconds: float = MAX_SECONDS,
) -> list[int]:
    """Up to `limit` ids matching the search, by path words or by person name, in page order
    (newest first; oldest first after an `after` cursor). BadParameter when the full-text step
    runs past `max_seconds`."""
    words = search_words(text)
    ids = set(_name_ids(cur, flt, text, limit))
    if words:
        ids.update(_path_ids(cur, flt, words, limit, window, max_seconds))
    return sorted(ids, reverse=flt.after is None)[:limit]
