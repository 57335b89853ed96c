"""The search box's text as words, a full-text query and REGEXPs (frontend/search.py)."""

from __future__ import annotations

import re

import pytest

from frontend.queries import ResultsFilter
from frontend.search import fulltext_query, path_sql, search_words, window_sql, word_regexp
from kubeface.images import ImageStatus


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("img_4242", ["img", "4242"]),  # "_" splits words, as the index's path_words does
        ("2026/11/img_4242.jpg", ["2026", "11", "img", "4242", "jpg"]),
        ("Straße", ["Straße"]),
        ("日本 写真", ["日本", "写真"]),
        ('+"obama" -(x) ~y* @3 <z>', ["obama", "x", "y", "3", "z"]),  # full-text operators
        ("a%b\\c'd\"e", ["a", "b", "c", "d", "e"]),  # LIKE and SQL quoting characters
        ("img img_0004242 im", ["img", "0004242"]),  # once each; "im" is implied by "img"
        ("_/.-", []),
        ("", []),
    ],
)
def test_words_are_letters_and_digits_only(text, words):
    assert search_words(text) == words
    assert fulltext_query(words) == " ".join(f"+{w}*" for w in words)


def test_two_hundred_words_stay_words():
    text = " ".join(f"w{n:03d}" for n in range(200))
    assert search_words(text) == [f"w{n:03d}" for n in range(200)]
    sql, params = window_sql(ResultsFilter(search=text), search_words(text), 5000, 51)
    assert sql.count("REGEXP") == 200 and "w000" not in sql  # the words travel as parameters


def _pcre(pattern: str) -> re.Pattern[str]:
    """MariaDB's PCRE pattern in Python's dialect (\\p{L}\\p{N} → a letter or digit)."""
    quoted = re.fullmatch(r"\(\?<!\[\\p\{L\}\\p\{N\}\]\)\\Q(.*)\\E", pattern)
    assert quoted, pattern
    return re.compile(r"(?<![^\W_])" + re.escape(quoted.group(1)))


@pytest.mark.parametrize(
    ("word", "path_words", "hit"),
    [
        ("4242", "2026/11/img 4242.jpg", True),
        ("img", "2026/11/img 4242.jpg", True),
        ("mg", "2026/11/img 4242.jpg", False),  # a word must begin a word of the path
        ("242", "2026/11/img 4242.jpg", False),
        ("jpg", "2026/11/img 4242.jpg", True),
        ("straße", "a/Straße", False),  # case-sensitive, as the utf8mb4_bin collation
    ],
)
def test_each_word_must_begin_a_word_of_the_path(word, path_words, hit):
    assert bool(_pcre(word_regexp(word)).search(path_words)) is hit


def test_queries_take_the_page_range_and_only_the_rare_word_to_the_index():
    flt = ResultsFilter(status=ImageStatus.FAILED, search="img_0004242", before=99)
    sql, params = window_sql(flt, ["img", "0004242"], 5000, 51)
    assert "FORCE INDEX (ix_images_status_id)" in sql and "ORDER BY i.id DESC LIMIT %(window)s" in sql
    assert params["status"] == "FAILED" and params["before"] == 99 and params["window"] == 5000
    sql, params = path_sql(ResultsFilter(search="img_0004242", after=7), ["img", "0004242"], ["0004242"], 51)
    assert params["fts"] == "+0004242*" and params["after"] == 7
    assert sql.count("REGEXP") == 2 and sql.endswith("ORDER BY i.id ASC LIMIT %(limit)s")
