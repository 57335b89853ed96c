"""The results browser in a real Chromium: filters, pages, an image, a person, enrolment, a11y."""

from __future__ import annotations

import re
import shutil
import time

import pytest

from tests.browser.conftest import CREDENTIALS

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(180)]

MISSING = 55  # more than one page (FRONTEND_PAGE_SIZE is 50); they fail fast, no recognition


def _shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def seeded(mesh):
    """Real processed images under browser/: known, two faces, stranger, no face, corrupt, missing."""
    folder = mesh.image_root / "browser"
    folder.mkdir(exist_ok=True)
    for name in ("obama2.jpg", "two_faces.jpg", "biden.jpg", "no_face.png", "corrupt.jpg"):
        shutil.copy(mesh.image_root / name, folder / name)
    with mesh.api() as api:
        missing = api.post(
            "/images/post", json={"paths": [f"browser/missing-{n}.jpg" for n in range(MISSING)]}
        )
    assert missing.status_code == 200, missing.text
    ids = {name: mesh.post(f"browser/{name}")["id"] for name in ("obama2.jpg", "two_faces.jpg", "biden.jpg")}
    ids |= {name: mesh.post(f"browser/{name}")["id"] for name in ("no_face.png", "corrupt.jpg")}
    for image_id in [*ids.values(), *(r["id"] for r in missing.json()["results"])]:
        mesh.wait_final(image_id)
    return ids


def test_results_table_filters_and_pagination(mesh, ui, seeded, page, screenshots):
    page.goto(ui + "/")
    _shot(page, screenshots, "results")
    assert page.locator("table.results tbody tr").count() == 50
    # The FAILED count in the header filters the table.
    page.locator("ul.counts a", has_text="FAILED").click()
    assert "status=FAILED" in page.url
    badges = page.locator("table.results tbody .badge").all_inner_texts()
    assert badges and set(badges) == {"FAILED"}
    # Keyset pagination: older, then back to newer, keeping the filter.
    first_ids = page.locator("table.results tbody tr td:nth-child(2)").all_inner_texts()
    page.get_by_role("link", name="Older →").click()
    assert "before=" in page.url and "status=FAILED" in page.url
    older_ids = page.locator("table.results tbody tr td:nth-child(2)").all_inner_texts()
    assert older_ids and not set(older_ids) & set(first_ids)
    assert max(map(int, older_ids)) < min(map(int, first_ids))
    _shot(page, screenshots, "results-older-failed")
    page.get_by_role("link", name="← Newer").click()
    assert page.locator("table.results tbody tr td:nth-child(2)").all_inner_texts() == first_ids
    # Search by path, through the form.
    page.goto(ui + "/")
    page.get_by_label("Search path or person").fill("browser/two_faces")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()  # click() waits only for the navigation to start
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 1 and "browser/two_faces.jpg" in rows.inner_text()
    # Thumbnails are real pictures made on the server.
    assert page.locator("table.results tbody img").evaluate("img => img.complete && img.naturalWidth") > 0


def test_image_page_draws_labelled_face_boxes(mesh, ui, seeded, page, screenshots):
    page.goto(ui + "/?q=browser/two_faces")
    page.get_by_role("link", name="browser/two_faces.jpg").click()
    assert re.search(rf"/image/{seeded['two_faces.jpg']}$", page.url)
    page.wait_for_load_state("networkidle")
    assert page.locator("svg rect.box").count() == 2
    labels = page.locator("svg text").all_text_contents()
    assert any(label.startswith("1: obama") or label.startswith("2: obama") for label in labels)
    # The other face is Biden, whom no test enrols (tests.photos.NEVER_ENROLLED): "unknown".
    with mesh.api() as api:
        faces = api.get(f"/image/{seeded['two_faces.jpg']}").json()["faces"]
    expected = sorted(face["person"] or "unknown" for face in faces)
    assert sorted(label.split(": ", 1)[1].split(" ")[0] for label in labels) == expected
    # The labels stay inside the picture.
    svg = page.locator("figure.picture svg").bounding_box()
    for box in page.locator("svg text").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().toJSON())"
    ):
        assert svg["x"] - 1 <= box["x"] and box["x"] + box["width"] <= svg["x"] + svg["width"] + 1
    _shot(page, screenshots, "image")


def test_person_page_shows_enrolled_photos_and_recognised_images(mesh, ui, seeded, page, screenshots):
    page.goto(ui + f"/image/{seeded['obama2.jpg']}")
    page.locator("dl.facts").get_by_role("link", name="obama").click()
    assert page.locator("h1").inner_text() == "obama"
    page.wait_for_function("() => document.querySelector('ul.photos img').naturalWidth > 0")
    assert page.get_by_role("link", name="browser/obama2.jpg").count() == 1
    _shot(page, screenshots, "person")


def test_enrol_a_person_from_an_image_page(mesh, ui, seeded, page, screenshots):
    people = mesh.image_root / "shared" / "people" / "rose_leslie"
    if not people.is_dir():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    for n in (1, 2):
        shutil.copy(people / f"img{n}.jpg", mesh.image_root / "browser" / f"rose{n}.jpg")
    first, second = (mesh.wait_final(mesh.post(f"browser/rose{n}.jpg")["id"]) for n in (1, 2))
    assert first["status"] == second["status"] == "PENDING"
    page.goto(ui + f"/image/{first['id']}")
    page.get_by_label("Name for face 1", exact=True).fill("rose_leslie")
    page.get_by_role("button", name="Enrol").click()
    assert "Enrolled rose_leslie" in page.locator(".notice").inner_text()
    # The image itself and the other PENDING photo of her are re-identified without anyone asking.
    for image_id in (first["id"], second["id"]):
        deadline = time.monotonic() + 60
        while mesh.wait_final(image_id)["person"] != "rose_leslie" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert mesh.wait_final(image_id)["person"] == "rose_leslie"
    page.reload()
    assert page.locator("dl.facts").get_by_role("link", name="rose_leslie").count() == 1
    _shot(page, screenshots, "image-after-enrolment")


def test_requeue_works_without_javascript(mesh, ui, seeded, chromium, screenshots):
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 800}, http_credentials=CREDENTIALS
    )
    page = context.new_page()
    try:
        image_id = seeded["corrupt.jpg"]
        page.goto(ui + f"/image/{image_id}")
        page.get_by_role("button", name="Re-queue this image").click()
        assert "re-queued" in page.locator(".notice").inner_text()
        assert mesh.wait_final(image_id)["attempts"] >= 2
    finally:
        context.close()


def test_system_panel_reads_the_services(mesh, ui, seeded, page, screenshots):
    page.goto(ui + "/system")
    assert page.locator(".breaker-closed").inner_text() == "closed"
    assert re.fullmatch(r"\d+", page.locator("#queue-t + p.big").inner_text())
    assert page.locator("ul.problems").count() == 0
    _shot(page, screenshots, "system")


@pytest.mark.parametrize("path", ["/", "/?status=FAILED", "/people", "/system", "image", "person"])
def test_pages_pass_axe_accessibility_checks(mesh, ui, seeded, page, axe_source, path):
    if path == "image":
        path = f"/image/{seeded['two_faces.jpg']}"
    elif path == "person":
        path = "/person/" + str(mesh.sql("SELECT id FROM person WHERE name = 'obama'")[0]["id"])
    page.goto(ui + path)
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
    )
    problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert problems == []


def test_keyboard_alone_reaches_filters_and_rows(mesh, ui, seeded, page):
    page.goto(ui + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    focused = []
    for _ in range(15):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.tagName + ' ' + document.activeElement.textContent")
        )
    assert any(f.startswith("SELECT") for f in focused)
    assert any(f.startswith("INPUT") for f in focused)
    assert any(f == "BUTTON Filter" for f in focused)
    # Focus is visible: the outline is drawn.
    page.get_by_role("button", name="Filter").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
