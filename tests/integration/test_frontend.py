"""The results browser, rendered from real rows."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.mesh


@pytest.fixture(scope="module")
def processed(mesh):
    image = mesh.wait_final(mesh.post("obama_partial_face2.jpg")["id"])
    hostile = "<img src=x onerror=alert(1)>.jpg"
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
    two = mesh.wait_final(mesh.post("two_faces.jpg")["id"])
    html = httpx.get(f"{mesh.frontend_url}/image/{two['id']}").text
    assert html.count('<rect class="box"') == 2
    assert "obama " in html and "unknown" in html
    assert httpx.get(f"{mesh.frontend_url}/image/999999").status_code == 404


def test_results_queries_use_indexes_not_scans(mesh):
    from frontend.queries import ResultsFilter, results_sql
    from kubeface.images import ImageStatus

    # The optimizer picks plans by table statistics: give it a table shaped like a busy one
    # (mostly PROCESSED), as a few test rows would not be.
    mesh.sql(
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
    finally:
        mesh.sql("DELETE FROM images WHERE path LIKE 'plan/%%'")


def test_requeue_and_enrol_forms_go_through_the_receiver(mesh, processed):
    _, failed = processed
    with httpx.Client(base_url=mesh.frontend_url) as client:
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
