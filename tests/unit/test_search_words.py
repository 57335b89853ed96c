"""The search box's text as a full-text query (frontend/queries.py, migration 0008)."""

from __future__ import annotations

import pytest

from frontend.queries import path_words_query


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("img_4242", "+img* +4242*"),  # "_" splits words, as the index's path_words does
        ("2026/11/img_4242.jpg", "+2026* +11* +img* +4242* +jpg*"),
        ("Straße", "+Straße*"),
        ('+"obama" -(x) ~y* @3 <z>', "+obama* +x* +y* +3* +z*"),  # operators never reach MariaDB
        ("_/.-", None),
        ("", None),
    ],
)
def test_every_word_must_begin_a_word_of_the_path(text, query):
    assert path_words_query(text) == query
