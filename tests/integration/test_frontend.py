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
    assert f'<span class="badge PROCESSED">PROCESSED</span> {counts}</a>' in html


def test_paths_are_escaped(mesh, processed):
    html = httpx.get(mesh.frontend_url + "/", params={"status": "FAILED"}).text
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in html


def test_filter_search_and_pagination(mesh, processed):
    image, failed = processed
    only_failed = httpx.get(mesh.frontend_url + "/", params={"status": "FAILED"}).text
    assert 'class="badge PROCESSED"' not in only_failed.split("<table>")[1]
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
