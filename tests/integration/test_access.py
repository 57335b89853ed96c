"""Write endpoints need the bearer token; reads stay open; the token never reaches the logs;
each service's MySQL account can do what the service needs and no more."""

from __future__ import annotations

import uuid

import httpx
import pymysql
import pytest

from kubeface.db_accounts import account_statements
from tests.conftest import API_TOKEN
from tests.servers import mysql_root

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
        # Face encodings are biometric data that no page shows.
        ("frontend", "SELECT encoding FROM person_images"),
        ("frontend", "SELECT * FROM person_images"),
        ("frontend", "SELECT COUNT(*) FROM person_images WHERE encoding IS NOT NULL"),
        # Unknown faces' encodings: only the clustering worker reads them (processor writes).
        ("frontend", "SELECT encoding FROM face_encodings"),
        ("receiver", "SELECT encoding FROM face_encodings"),
        ("processor", "SELECT encoding FROM face_encodings"),
        ("cluster", "DELETE FROM images"),
        ("processor", "DELETE FROM person"),
        # The processor and the retry job need one column each of person_images, not encodings.
        ("processor", "SELECT encoding FROM person_images"),
        ("retry", "SELECT encoding FROM person_images"),
        ("processor", "UPDATE person_images SET encoding = NULL"),
        ("recognizer", "UPDATE images SET status = 'QUEUED'"),
        ("recognizer", "UPDATE person_images SET path = 'x'"),
        ("retry", "DELETE FROM images"),
        ("receiver", "DROP TABLE faces"),
    ],
)
def test_each_service_account_is_refused_what_it_does_not_need(mesh, service, statement):
    assert_refused(mesh, service, statement)


def assert_refused(mesh, service: str, statement: str) -> None:
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


def test_the_frontend_shows_people_and_whether_their_photos_are_encoded(mesh):
    """What the pages read of person_images, under the account that cannot read encodings."""
    name, path = f"unencoded-{uuid.uuid4().hex[:8]}", f"known/missing-{uuid.uuid4().hex[:8]}.jpg"
    mesh.sql("INSERT INTO person (name) VALUES (%s)", (name,))
    # No such file: the recognizer cannot encode it, so it stays without an encoding.
    mesh.sql(
        "INSERT INTO person_images (person_id, path, path_hash)"
        " SELECT id, %s, UNHEX(SHA2(%s, 256)) FROM person WHERE name = %s",
        (path, path, name),
    )
    try:
        people = {row["name"]: row["id"] for row in mesh.sql("SELECT id, name FROM person")}
        unencoded = httpx.get(f"{mesh.frontend_url}/person/{people[name]}")
        assert unencoded.status_code == 200
        assert f"{path} (not encoded yet)" in unencoded.text
        encoded = httpx.get(f"{mesh.frontend_url}/person/{people['obama']}")
        assert encoded.status_code == 200
        assert "known/obama.jpg" in encoded.text and "not encoded yet" not in encoded.text
        listing = httpx.get(f"{mesh.frontend_url}/people")
        assert listing.status_code == 200 and name in listing.text
    finally:  # other tests expect every known photo to be encoded
        mesh.sql("DELETE FROM person WHERE name = %s", (name,))


def test_updating_the_accounts_takes_back_what_an_older_release_granted(mesh):
    """An upgrade re-runs the account statements (`kubeface migrate --accounts`) over accounts
    that an older release made: the frontend's used to read every table whole."""
    login = mesh.accounts["frontend"]
    account = f"'{login['MYSQL_USER']}'@'127.0.0.1'"
    mysql_root(mesh.mariadb_socket, f"GRANT SELECT ON kubeface.* TO {account}")
    statements = account_statements(
        "kubeface", {"frontend": login["MYSQL_PASSWORD"]}, "127.0.0.1", ["frontend"]
    )
    mysql_root(mesh.mariadb_socket, ";".join(statements) + ";")
    assert_refused(mesh, "frontend", "SELECT encoding FROM person_images")
    assert httpx.get(f"{mesh.frontend_url}/people").status_code == 200
