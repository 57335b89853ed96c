"""The search box (`/?q=…`, frontend/search.py) on real MariaDB: what a user finds, whichever way
the search takes (the window of newest rows, or the full-text index for the rarest word).

Rows are this module's own, under a unique word, inserted by bulk SQL like a large import; the
window is made small (WINDOW) so that a few hundred rows reach past it.
"""

from __future__ import annotations

import numpy as np
import pytest

from frontend.params import BadParameter
from frontend.queries import ResultsFilter, results_page
from kubeface.images import ImageStatus
from kubeface.images.counts import recount
from kubeface.people import EnrolledImage, create_person
from tests.mysql_reads import rows_read
from tests.photos import unique_name

pytestmark = pytest.mark.mesh

ROWS = 400
WINDOW = 100  # rows the window tries; ROWS reach well past it
# Every 40th row's path has the words "sparse" and "11" too: 10 rows, older ones past the window.
RARE_EVERY = 40


@pytest.fixture(scope="module")
def tagged(mesh):
    """ROWS rows whose paths all hold the word `tag`: …/<tag>/img_00001.jpg … img_00400.jpg (ids in
    that order), every 10th FAILED, every RARE_EVERY-th under folders "sparse/11"; {n: id}."""
    tag = unique_name("s").replace("_", "")
    mesh.sql_bulk(
        "INSERT INTO images (path, path_hash, status, finished_at)"
        " SELECT p, UNHEX(SHA2(p, 256)), IF(MOD(seq, 10) = 0, 'FAILED', 'PROCESSED'), NOW(6) FROM"
        f" (SELECT seq, CONCAT('search/', %(tag)s, IF(MOD(seq, {RARE_EVERY}) = 0, '/sparse/11', ''),"
        f" '/img_', LPAD(seq, 5, '0'), '.jpg') AS p FROM seq_1_to_{ROWS}) t ORDER BY seq",
        {"tag": tag},
    )
    ids = mesh.sql("SELECT id, path FROM images WHERE path LIKE %s ORDER BY id", (f"search/{tag}/%",))
    yield tag, {int(row["path"][-9:-4]): row["id"] for row in ids}
    mesh.sql_bulk("DELETE FROM images WHERE path LIKE %s", (f"search/{tag}/%",))


def _ids(db, flt: ResultsFilter, page_size: int = 5) -> list[int]:
    return [row["id"] for row in results_page(db, flt, page_size, WINDOW).rows]


def _every_page(db, search: str, **flt) -> list[int]:
    """Every id the search finds, page after page (older, by `before`), newest first."""
    found: list[int] = []
    page = results_page(db, ResultsFilter(search=search, **flt), 3, WINDOW)
    found += [row["id"] for row in page.rows]
    while page.has_older:
        page = results_page(db, ResultsFilter(search=search, before=found[-1], **flt), 3, WINDOW)
        found += [row["id"] for row in page.rows]
    return found


def test_a_common_word_and_a_rare_one_find_the_rare_row_older_than_the_window(db, tagged):
    tag, ids = tagged
    # Every row has `tag` and "img"; only one has a word beginning "00007", ROWS - 7 rows newer.
    assert _ids(db, ResultsFilter(search=f"{tag} img_00007")) == [ids[7]]
    assert _ids(db, ResultsFilter(search=f"{tag}/img_00007.jpg")) == [ids[7]]


def test_common_words_only_give_the_newest_rows(db, tagged):
    tag, ids = tagged
    page = results_page(db, ResultsFilter(search=f"img {tag}"), 5, WINDOW)
    assert [row["id"] for row in page.rows] == [ids[n] for n in range(ROWS, ROWS - 5, -1)]
    assert page.has_older


def test_a_miss_finds_nothing(db, tagged):
    tag, _ = tagged
    assert _ids(db, ResultsFilter(search=f"{tag} img_nowhere_zz")) == []
    assert _ids(db, ResultsFilter(search=f"{tag} mg_00007")) == []  # words begin words of the path


def test_a_status_filter_and_a_search_give_that_status_only(db, tagged):
    tag, ids = tagged
    failed = [ids[n] for n in range(ROWS, 0, -1) if n % 10 == 0]
    assert _ids(db, ResultsFilter(ImageStatus.FAILED, search=tag), page_size=50) == failed
    sparse_failed = [ids[n] for n in range(ROWS, 0, -1) if n % RARE_EVERY == 0]
    assert _every_page(db, f"{tag} sparse", status=ImageStatus.FAILED) == sparse_failed


def test_a_word_shorter_than_the_index_takes_is_found(db, tagged):
    """InnoDB indexes words of 3 characters or more: "11" (a month in a dated path) found nothing.
    The words are matched by REGEXP; the index is asked only for a word it holds."""
    tag, ids = tagged
    assert _every_page(db, f"{tag} 11") == [ids[n] for n in range(ROWS, 0, -1) if n % RARE_EVERY == 0]


def test_paging_a_search_gives_every_match_once(db, tagged):
    tag, ids = tagged
    sparse = [ids[n] for n in range(ROWS, 0, -1) if n % RARE_EVERY == 0]
    assert _every_page(db, f"sparse {tag}") == sparse
    # Newer pages (after=…) from the oldest match walk back up to the newest, each once.
    found: list[int] = [sparse[-1]]
    page = results_page(db, ResultsFilter(search=f"sparse {tag}", after=found[-1]), 3, WINDOW)
    while page.rows:
        found = [row["id"] for row in page.rows] + found
        if not page.has_newer:
            break
        page = results_page(db, ResultsFilter(search=f"sparse {tag}", after=found[0]), 3, WINDOW)
    assert found == sparse


def test_a_name_search_reads_a_page_of_a_person_with_many_images(own_db):
    """A name that matches a person with thousands of images reads a page of them, newest first,
    not all of them sorted, with or without a status filter (rows counted by MariaDB's
    Handler_read_* counters, not a clock)."""
    db = own_db(mysql_pool_size=1)
    name = unique_name("Searchable")
    person = create_person(db, name, [EnrolledImage("people/search.jpg", np.zeros(128))]).person_id
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO images (path, path_hash, status, person_id) SELECT CONCAT('many/', seq, '.jpg'),"
            " UNHEX(SHA2(CONCAT('many/', seq, '.jpg'), 256)), IF(seq = 1, 'FAILED', 'PROCESSED'), %s"
            " FROM seq_1_to_3000 ORDER BY seq",
            (person,),
        )
        cur.execute("SELECT MIN(id) AS oldest, MAX(id) AS newest FROM images")
        ids = cur.fetchone()
    recount(db)
    flt = ResultsFilter(search=name[3:12])  # a part of the name
    page = results_page(db, flt, 50, WINDOW)
    assert [row["id"] for row in page.rows] == list(range(ids["newest"], ids["newest"] - 50, -1))
    assert page.has_older and {row["person"] for row in page.rows} == {name}
    assert rows_read(db, lambda db: results_page(db, flt, 50, WINDOW)) < 1_000
    failed = ResultsFilter(ImageStatus.FAILED, search=name[3:12])
    assert [row["id"] for row in results_page(db, failed, 50, WINDOW).rows] == [ids["oldest"]]
    assert rows_read(db, lambda db: results_page(db, failed, 50, WINDOW)) < 1_000


def test_a_name_search_of_many_people_with_a_status_walks_that_status(own_db):
    """A name shared by many people, each with a few images of which almost none has the status
    asked for: the rows of that status are walked, not every image of every person."""
    db = own_db(mysql_pool_size=1)
    name = unique_name("Crowd")
    with db.transaction() as cur:
        cur.execute("INSERT INTO person (name) SELECT CONCAT(%s, seq) FROM seq_1_to_100", (name,))
        cur.execute(
            "INSERT INTO images (path, path_hash, status, person_id) SELECT CONCAT('crowd/', seq, '.jpg'),"
            " UNHEX(SHA2(CONCAT('crowd/', seq, '.jpg'), 256)), IF(seq = 1, 'FAILED', 'PROCESSED'),"
            " (SELECT MIN(id) FROM person WHERE name LIKE %s) + seq MOD 100 FROM seq_1_to_3000 ORDER BY seq",
            (f"{name}%",),
        )
        cur.execute(
            "INSERT INTO images (path, path_hash, status) SELECT CONCAT('failed/', seq, '.jpg'),"
            " UNHEX(SHA2(CONCAT('failed/', seq, '.jpg'), 256)), 'FAILED' FROM seq_1_to_300"
        )
        cur.execute("SELECT id FROM images WHERE path = 'crowd/1.jpg'")
        failed_of_a_person = cur.fetchone()["id"]
    recount(db)
    failed = ResultsFilter(ImageStatus.FAILED, search=name)
    assert [row["id"] for row in results_page(db, failed, 50, WINDOW).rows] == [failed_of_a_person]
    assert rows_read(db, lambda db: results_page(db, failed, 50, WINDOW)) < 1_500


BROAD_ROWS = 20_000  # enough that the full-text step outlasts a microsecond's limit by far


@pytest.fixture
def broad(mesh):
    """BROAD_ROWS rows under one unique word: a search for it and a short word must take the
    full-text step over every one of them (the short word is not indexed)."""
    tag = unique_name("b").replace("_", "")
    mesh.sql_bulk(
        "INSERT INTO images (path, path_hash) SELECT p, UNHEX(SHA2(p, 256)) FROM"
        f" (SELECT CONCAT('search/', %(tag)s, '/img_', seq, '.jpg') AS p FROM seq_1_to_{BROAD_ROWS}) t",
        {"tag": tag},
    )
    yield tag
    mesh.sql_bulk("DELETE FROM images WHERE path LIKE %s", (f"search/{tag}/%",))


def test_a_search_that_would_read_much_of_the_table_is_stopped_with_what_to_do(db, broad):
    """A common word and a 2-character one ask the index for every row of the common word: past
    the search's time limit it is stopped, and the user is told how to narrow it."""
    search = ResultsFilter(search=f"{broad} zz")
    with pytest.raises(BadParameter, match="Add a rarer word of 3 or more letters or digits") as refused:
        results_page(db, search, 5, WINDOW, search_max_seconds=0.000001)
    assert refused.value.name == "q"
    # Under the default limit the same search runs to its end (nothing has "zz"), and the pool's
    # connection that was stopped serves the next search.
    assert results_page(db, search, 5, WINDOW).rows == []
    assert len(results_page(db, ResultsFilter(search=f"{broad} img_7"), 5, WINDOW).rows) == 5
