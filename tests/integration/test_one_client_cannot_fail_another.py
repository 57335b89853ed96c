"""One client's malformed value gets a 4xx naming it and never fails another client's request.

JSON's `\\udcff` and `\\ud800` escapes decode to lone surrogates: text no UTF-8 column can hold.
Posted concurrently, such a path used to reach the group commit and fail the whole batch.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.mesh

SURROGATES = ["\\udcff", "\\ud800", "\\udfff"]  # as JSON escapes, sent verbatim


def _raw_post(api, route: str, body: str):
    return api.post(route, content=body.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize("escape", SURROGATES)
def test_a_path_with_a_lone_surrogate_is_refused_with_a_reason(mesh, escape):
    with mesh.api() as api:
        answer = _raw_post(api, "/image/post", f'{{"path": "a{escape}.jpg"}}')
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["field"] == "path"


def test_a_batch_answers_each_path_on_its_own(mesh):
    tag = uuid.uuid4().hex[:8]
    body = f'{{"paths": ["iso-{tag}/ok.jpg", "a\\udcff.jpg", "b\\ud800.jpg", "iso-{tag}/ok2.jpg"]}}'
    with mesh.api() as api:
        answer = _raw_post(api, "/images/post", body)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [("error" in r) for r in results] == [False, True, True, False]
    assert all("lone surrogate" in r["error"] for r in results[1:3])
    assert answer.json()["accepted"] == 2


def test_surrogate_posts_racing_good_ones_fail_none_of_them(mesh):
    tag = uuid.uuid4().hex[:8]
    good = [f'{{"path": "iso-{tag}/{i}.jpg"}}' for i in range(40)]
    bad = [f'{{"path": "iso-{tag}/{i}{SURROGATES[i % 3]}.jpg"}}' for i in range(20)]
    bodies = [body for pair in zip(good, bad + bad, strict=True) for body in pair]  # interleaved
    with mesh.api() as api, ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda body: _raw_post(api, "/image/post", body), bodies))
    statuses = [a.status_code for a in answers]
    assert statuses[0::2] == [202] * len(good), [a.text for a in answers[0::2] if a.status_code != 202]
    assert statuses[1::2] == [422] * len(good)


def test_a_person_name_with_a_lone_surrogate_is_refused(mesh):
    with mesh.api() as api:
        answer = _raw_post(api, "/person", '{"name": "x\\udcff", "paths": ["known/obama.jpg"]}')
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["field"] == "name"


@pytest.mark.parametrize("name", ["nul\\u0000byte", "new\\nline", "esc\\u001b[31mred"])
def test_a_person_name_with_a_control_character_is_refused(mesh, name):
    """Names are printed by the CLI and shown in logs: an escape sequence would rewrite a terminal."""
    with mesh.api() as api:
        answer = _raw_post(api, "/person", f'{{"name": "{name}", "paths": ["known/obama.jpg"]}}')
    assert answer.status_code == 422, answer.text
    assert "control character" in answer.json()["problems"][0]["problem"]
