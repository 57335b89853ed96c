"""The person page's operator forms: shown and working for an operator, absent for visitors."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.test_people_admin import copy_of, enrol, own_face, recognised

pytestmark = pytest.mark.mesh


def test_visitors_see_no_forms_and_cannot_post(mesh):
    with mesh.api() as api:
        person = enrol(api, [own_face(mesh)])

    with httpx.Client(base_url=mesh.frontend_url, timeout=60) as visitor:
        html = visitor.get(f"/person/{person['id']}").text
        for form in ("/rename", "/merge", "/remove", "/erase"):
            assert form not in html
        assert visitor.post(f"/person/{person['id']}/erase", data={"confirm": "erase"}).status_code == 403
        assert visitor.get(f"/person/{person['id']}/erase").status_code == 404


def test_an_operator_renames_removes_a_photo_and_erases_after_confirming(mesh):
    face = own_face(mesh)
    with mesh.api() as api:
        person = enrol(api, [face, own_face(mesh)])
    image = recognised(mesh, copy_of(mesh, face))
    with mesh.operator() as operator:
        page = operator.get(f"/person/{person['id']}").text
        assert f"/person/{person['id']}/rename" in page and "Merge" in page and "Remove" in page
        new_name = person["name"] + "_r"
        done = operator.post(f"/person/{person['id']}/rename", data={"name": new_name}, follow_redirects=True)
        assert done.status_code == 200 and f"Renamed to {new_name}" in done.text
        photo = person["images"][1]["id"]
        assert operator.get(f"/photo/{photo}/thumbnail").headers["content-type"] == "image/jpeg"
        removed = operator.post(f"/person/{person['id']}/photos/{photo}/remove", follow_redirects=True)
        assert removed.status_code == 200 and "Photo removed" in removed.text
        assert operator.get(f"/photo/{photo}/thumbnail").status_code == 404
        # Without the confirmation field nothing is erased: the confirmation page answers.
        asked = operator.post(f"/person/{person['id']}/erase", data={}, follow_redirects=True)
        assert "cannot be undone" in asked.text
        assert operator.get(f"/person/{person['id']}").status_code == 200
        erased = operator.post(
            f"/person/{person['id']}/erase", data={"confirm": "erase"}, follow_redirects=True
        )
        assert erased.status_code == 200 and f"Erased {new_name}" in erased.text
        assert operator.get(f"/person/{person['id']}").status_code == 404
        assert operator.get(f"/photo/{person['images'][0]['id']}/thumbnail").status_code == 404
    assert mesh.wait_final(image["id"])["person"] != new_name
