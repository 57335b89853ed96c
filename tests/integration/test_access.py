"""Write endpoints need the bearer token; reads stay open; the token never reaches the logs."""

from __future__ import annotations

import pymysql
import pytest

from tests.conftest import API_TOKEN

pytestmark = pytest.mark.mesh


@pytest.mark.parametrize("token", [None, "wrong-token", API_TOKEN + "x", API_TOKEN[:-1]])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/image/post", {"path": "obama2.jpg"}),
        ("/images/post", {"paths": ["obama2.jpg"]}),
        ("/person", {"name": "intruder", "paths": ["obama.jpg"]}),
    ],
)
def test_writes_without_the_right_token_are_refused(mesh, token, path, body):
    with mesh.api(token=token) as api:
        response = api.post(path, json=body)
    assert response.status_code == 401
    assert "bearer token" in response.json()["error"]
    assert not mesh.sql("SELECT id FROM person WHERE name = 'intruder'")


def test_basic_scheme_is_not_a_bearer_token(mesh):
    with mesh.api(token=None) as api:
        response = api.post(
            "/image/post", json={"path": "obama2.jpg"}, headers={"authorization": f"Basic {API_TOKEN}"}
        )
    assert response.status_code == 401


def test_reads_need_no_token(mesh):
    image_id = mesh.post("obama_small_read.jpg")["id"]
    with mesh.api(token=None) as api:
        assert api.get(f"/image/{image_id}").status_code == 200
        assert api.get("/healthz").status_code == 200


def test_the_token_never_appears_in_any_log(mesh):
    with mesh.api() as api:
        api.post("/image/post", json={"path": "access/token_check.jpg"})
    for log in mesh.log_dir.glob("*.log"):
        assert API_TOKEN not in log.read_text(errors="replace"), f"token leaked into {log.name}"


@pytest.mark.parametrize(
    ("service", "statement"),
    [
        ("frontend", "UPDATE images SET status = 'QUEUED'"),
        ("frontend", "DELETE FROM person"),
        ("processor", "DELETE FROM person"),
        ("processor", "UPDATE person_images SET encoding = NULL"),
        ("recognizer", "UPDATE images SET status = 'QUEUED'"),
        ("recognizer", "UPDATE person_images SET path = 'x'"),
        ("retry", "DELETE FROM images"),
        ("receiver", "DROP TABLE faces"),
    ],
)
def test_each_service_account_is_refused_what_it_does_not_need(mesh, service, statement):
    login = mesh.accounts[service]
    params = {**mesh.db_params, "user": login["MYSQL_USER"], "password": login["MYSQL_PASSWORD"]}
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError) as refused:
            cur.execute(statement)
        assert refused.value.args[0] in (1142, 1143)  # table / column access denied
    finally:
        conn.rollback()
        conn.close()
