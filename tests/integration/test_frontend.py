"""The results browser, rendered from real rows."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.conftest import OPERATOR, free_port
from tests.photos import unique_name

pytestmark = pytest.mark.mesh


@pytest.fixture(scope="module")
def processed(mesh):
    # Rows of this module's own (a post of a path posted before answers with the older row).
    image = mesh.wait_final(mesh.post(mesh.photo_copy("obama_partial_face2.jpg"))["id"])
    hostile = unique_name("frontend") + "<img src=x onerror=alert(1)>.jpg"
    (mesh.image_root / hostile).write_bytes(b"not an image")
    failed = mesh.wait_final(mesh.post(hostile)["id"])
    return image, failed


def test_results_table_lists_rows_with_status_person_and_counts(mesh, processed):
    image, failed = processed
    page = httpx.get(mesh.frontend_url + "/")
    assert page.status_code == 200
    html = page.text
    assert f"<td>{image['id']}</td>" in html
    assert f'href="/person/{image["person_id"]}">obama</a>' in html
    assert 'class="badge PROCESSED"' in html and 'class="badge FAILED"' in html
    counts = mesh.sql("SELECT COUNT(*) AS n FROM images WHERE status = 'PROCESSED'")[0]["n"]
    assert f'<span class="badge PROCESSED">PROCESSED</span> <span class="n">{counts}</span></a>' in html


def test_paths_are_escaped(mesh, processed):
    html = httpx.get(mesh.frontend_url + "/", params={"status": "FAILED"}).text
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in html


def test_filter_search_and_pagination(mesh, processed):
    image, failed = processed
    only_failed = httpx.get(mesh.frontend_url + "/", params={"status": "FAILED"}).text
    assert 'class="badge PROCESSED"' not in only_failed.split('<table class="results">')[1]
    found = httpx.get(mesh.frontend_url + "/", params={"q": "partial_face2"}).text
    assert f"<td>{image['id']}</td>" in found and f"<td>{failed['id']}</td>" not in found
    by_person = httpx.get(mesh.frontend_url + "/", params={"q": "obama"}).text
    assert f"<td>{image['id']}</td>" in by_person
    older = httpx.get(mesh.frontend_url + "/", params={"before": image["id"]}).text
    assert f"<td>{image['id']}</td>" not in older


def test_person_page_shows_enrolled_photos_and_recognised_images(mesh, processed):
    image, _ = processed
    html = httpx.get(f"{mesh.frontend_url}/person/{image['person_id']}").text
    assert "<h1>obama</h1>" in html
    assert "known/obama.jpg" in html
    assert "obama_partial_face2.jpg" in html
    assert httpx.get(f"{mesh.frontend_url}/person/999999").status_code == 404


def test_thumbnails_are_made_from_the_file_and_cached(mesh, processed):
    image, failed = processed
    first = httpx.get(f"{mesh.frontend_url}/image/{image['id']}/thumbnail")
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert first.content[:2] == b"\xff\xd8"
    again = httpx.get(f"{mesh.frontend_url}/image/{image['id']}/thumbnail")
    assert again.content == first.content
    # An unreadable file gets a placeholder picture, not an error page.
    broken = httpx.get(f"{mesh.frontend_url}/image/{failed['id']}/thumbnail")
    assert broken.headers["content-type"].startswith("image/svg+xml")


def test_image_page_labels_each_face(mesh, processed):
    image, _ = processed
    two = mesh.wait_final(mesh.post(mesh.photo_copy("two_faces.jpg"))["id"])
    html = httpx.get(f"{mesh.frontend_url}/image/{two['id']}").text
    assert html.count('<rect class="box"') == 2
    assert "obama " in html and "unknown" in html
    assert httpx.get(f"{mesh.frontend_url}/image/999999").status_code == 404


def test_results_queries_use_indexes_not_scans(mesh):
    from frontend.queries import ResultsFilter, results_sql
    from frontend.search import path_sql, window_sql
    from kubeface.images import ImageStatus

    # The optimizer picks plans by table statistics: give it a table shaped like a busy one
    # (mostly PROCESSED), as a few test rows would not be.
    mesh.sql_bulk(
        "INSERT INTO images (path, path_hash, status, finished_at) SELECT CONCAT('plan/', seq),"
        " UNHEX(SHA2(CONCAT('plan/', seq), 256)), 'PROCESSED', NOW(6) FROM seq_1_to_20000"
    )
    try:
        mesh.sql("ANALYZE TABLE images")
        for flt, index in [
            (ResultsFilter(ImageStatus.FAILED, before=10**9), "ix_images_status_id"),
            (ResultsFilter(person_id=1, after=1), "ix_images_person"),
            (ResultsFilter(before=10**9), "PRIMARY"),
        ]:
            sql, params = results_sql(flt, 50)
            plan = mesh.sql("EXPLAIN " + sql, params)
            images = next(row for row in plan if row["table"] == "i")
            assert images["key"] == index, plan
            assert "filesort" not in (images["Extra"] or ""), plan
        # A search tries the newest rows of the range in order (the window), then asks the
        # full-text index for its rarest word and reads what it found: no scan of images.
        flt = ResultsFilter(search="plan_1234", before=10**9)
        sql, params = window_sql(flt, ["plan", "1234"], 5000, 51)
        plan = mesh.sql("EXPLAIN " + sql, params)
        images = next(row for row in plan if row["table"] == "i")
        assert images["key"] == "PRIMARY" and "filesort" not in (images["Extra"] or ""), plan
        sql, params = path_sql(flt, ["plan", "1234"], ["1234"], 51)
        plan = mesh.sql("EXPLAIN " + sql, params)
        assert [(row["table"], row["type"], row["key"]) for row in plan] == [
            ("i", "fulltext", "ft_images_path_words")
        ], plan
    finally:
        mesh.sql_bulk("DELETE FROM images WHERE path LIKE 'plan/%%'")


def test_requeue_and_enrol_forms_go_through_the_receiver(mesh, processed):
    _, failed = processed
    with mesh.operator() as client:
        assert 'action="/images/requeue"' in client.get("/").text
        done = client.post(f"/image/{failed['id']}/requeue")
        assert done.status_code == 303 and done.headers["location"].endswith("done=requeued")
        assert mesh.wait_final(failed["id"])["attempts"] == 2
        refused = client.post(f"/image/{failed['id']}/enroll", data={"name": "x", "face": "0"})
        assert refused.status_code == 422 and "0 face(s)" in refused.text
        cross_site = client.post(
            "/images/requeue", data={"status": "FAILED"}, headers={"origin": "http://evil"}
        )
        assert cross_site.status_code == 403


def test_system_panel_shows_breaker_and_queue(mesh):
    html = httpx.get(f"{mesh.frontend_url}/system").text
    assert 'class="big breaker-closed"' in html
    assert "Could not read" not in html


def test_frontend_exports_the_backlog_the_alerts_watch(mesh, processed):
    metrics = httpx.get(mesh.frontend_url + "/metrics").text
    processed_rows = mesh.sql("SELECT COUNT(*) AS n FROM images WHERE status = 'PROCESSED'")[0]["n"]
    assert f'kubeface_images{{status="PROCESSED"}} {float(processed_rows)}' in metrics
    assert "kubeface_queue_depth " in metrics
    assert 'http_requests_total{code="200",method="GET",route="/"}' in metrics


def test_without_an_operator_login_the_frontend_is_read_only(mesh, processed):
    """The session's frontend holds API_TOKEN but has no login: nobody may write through it."""
    _, failed = processed
    attempts = mesh.wait_final(failed["id"])["attempts"]
    with httpx.Client(base_url=mesh.frontend_url) as client:
        assert 'method="post"' not in client.get(f"/image/{failed['id']}").text
        assert 'method="post"' not in client.get("/").text
        same_site = {"origin": mesh.frontend_url}
        for path, form in [
            (f"/image/{failed['id']}/requeue", {}),
            ("/images/requeue", {"status": "FAILED"}),
            (f"/image/{failed['id']}/enroll", {"name": "frontend_intruder", "face": "0"}),
            (f"/image/{failed['id']}/add-to-person", {"person_id": "1", "face": "0"}),
        ]:
            refused = client.post(path, data=form, headers=same_site)
            assert refused.status_code == 403 and "read-only" in refused.text, path
    assert mesh.wait_final(failed["id"])["attempts"] == attempts
    assert not mesh.sql("SELECT id FROM person WHERE name = 'frontend_intruder'")


def test_read_only_image_page_says_why_there_is_no_enrol_form(mesh, processed):
    image, _ = processed
    page = httpx.get(f"{mesh.frontend_url}/image/{image['id']}").text
    assert "Read-only" in page and "FRONTEND_PASSWORD" in page and 'method="post"' not in page


def test_the_operator_frontend_needs_its_login(mesh, processed):
    image, _ = processed
    url = mesh.operator_frontend()
    assert httpx.get(url + "/").status_code == 401
    assert httpx.post(f"{url}/image/{image['id']}/requeue").status_code == 401
    assert httpx.get(url + "/", auth=(OPERATOR[0], "wrong")).status_code == 401
    assert httpx.get(url + "/healthz").status_code == 200


def test_pages_refuse_framing_and_null_origins(mesh, processed):
    image, _ = processed
    for response in (httpx.get(mesh.frontend_url + "/"), httpx.get(mesh.operator_frontend() + "/")):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    with mesh.operator() as client:
        null = client.post(f"/image/{image['id']}/requeue", headers={"origin": "null"})
        assert null.status_code == 403


def test_a_large_form_post_is_refused_before_it_is_read(mesh, processed):
    with mesh.operator() as client:
        declared = client.post("/images/requeue", content=b"status=FAILED&x=" + b"y" * 100_000)
        assert declared.status_code == 413

        def chunks():
            yield b"status=FAILED&x="
            for _ in range(40):
                yield b"y" * 4096

        assert client.post("/images/requeue", content=chunks()).status_code == 413


def test_a_taken_name_is_refused_and_adding_to_a_person_is_its_own_form(mesh):
    spare = mesh.image_root / "shared" / "lin-manuel-miranda.png"
    if not spare.exists():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    (mesh.image_root / "frontend").mkdir(exist_ok=True)
    for name in ("reference.png", "seen.png"):
        shutil.copy(spare, mesh.image_root / "frontend" / name)
    with mesh.api() as api:
        created = api.post("/person", json={"name": "frontend_lin", "paths": ["frontend/reference.png"]})
    assert created.status_code == 201, created.text
    person = created.json()["id"]
    image = mesh.wait_final(mesh.post("frontend/seen.png")["id"])
    with mesh.operator() as client:
        page = client.get(f"/image/{image['id']}").text
        assert f'<option value="{person}">frontend_lin</option>' in page
        taken = client.post(f"/image/{image['id']}/enroll", data={"name": "frontend_lin", "face": "0"})
        assert taken.status_code == 409 and "already enrolled" in taken.text
        assert "Add to existing person" in taken.text
        added = client.post(f"/image/{image['id']}/add-to-person", data={"person_id": person, "face": "0"})
        assert added.status_code == 303 and "done=added" in added.headers["location"]
        assert "frontend_lin" in client.get(added.headers["location"]).text
    photos = mesh.sql("SELECT COUNT(*) AS n FROM person_images WHERE person_id = %s", (person,))
    assert photos[0]["n"] == 2


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/?before=%C2%B2", "before"),  # "²".isdigit() is true and int("²") raises
        ("/?after=abc", "after"),
        ("/?person=-1", "person"),
        ("/?before=" + "9" * 30, "before"),
        ("/?status=processed", "status"),
        ("/?q=" + "x" * 1000, "q"),
        ("/image/abc", "image_id"),
        ("/image/%C2%B2", "image_id"),
        ("/person/1e3", "person_id"),
        ("/?done=enrolled&n=%C2%B2&name=x", None),  # a notice with a bad count is just not shown
        ("/image/99999999999999999999999", None),
        ("/person/99999999999999999999999", None),
    ],
)
def test_malformed_values_get_a_4xx_that_names_them(mesh, path, named):
    response = httpx.get(mesh.frontend_url + path)
    assert response.status_code < 500, response.text
    if named:
        assert response.status_code == 400 and named in response.text, response.text


def test_malformed_form_values_get_a_400_that_names_them(mesh, processed):
    image, _ = processed
    with mesh.operator() as client:
        for path, form, named in [
            (f"/image/{image['id']}/enroll", {"name": "x", "face": "²"}, "face"),
            (f"/image/{image['id']}/add-to-person", {"person_id": "one", "face": "0"}, "person_id"),
            ("/image/abc/requeue", {}, "image_id"),
        ]:
            response = client.post(path, data=form)
            assert response.status_code == 400 and named in response.text, (path, response.text)


def test_a_production_frontend_with_the_token_and_no_login_refuses_to_start(mesh):
    env = {"ENVIRONMENT": "production", "FRONTEND_PORT": str(free_port())}
    result = mesh.run("frontend", env=env, timeout=60)
    assert result.returncode != 0
    assert "FRONTEND_USER and FRONTEND_PASSWORD" in result.stdout + result.stderr
