"""`kubeface people export` and `import`: the gallery moved to another database as it is."""

from __future__ import annotations

import getpass
import json

import pymysql
import pytest

from kubeface.face_model import installed_model
from tests.servers import as_tests_account

pytestmark = pytest.mark.mesh


def _run(mesh, database: str, *args: str):
    return mesh.run("people", *args, env=as_tests_account(database))


def _rows(mesh, database: str, query: str) -> list[dict]:
    conn = pymysql.connect(**{**mesh.db_params, "database": database}, cursorclass=pymysql.cursors.DictCursor)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return list(cur.fetchall())
    finally:
        conn.close()


GALLERY = (
    "SELECT p.name, pi.path, pi.encoding FROM person p JOIN person_images pi ON pi.person_id = p.id"
    " WHERE pi.encoding IS NOT NULL ORDER BY p.name, pi.path"
)


@pytest.fixture
def target(mesh, empty_database):
    """An empty, migrated database: another deployment's gallery."""
    migrated = mesh.run("migrate", env=as_tests_account(empty_database))
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    return empty_database


@pytest.fixture
def bundle(mesh, tmp_path):
    """The session gallery, exported."""
    path = tmp_path / "gallery.json"
    exported = _run(mesh, "kubeface", "export", str(path), "--json")
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert json.loads(exported.stdout)["people"] >= 1
    return path


def test_an_imported_gallery_has_the_same_people_and_byte_identical_encodings(mesh, target, bundle):
    imported = _run(mesh, target, "import", str(bundle), "--json")
    assert imported.returncode == 0, imported.stderr[-2000:]

    source = _rows(mesh, "kubeface", GALLERY)
    assert source and _rows(mesh, target, GALLERY) == source
    people = json.loads(imported.stdout)["people"]
    assert {p["outcome"] for p in people} == {"created"}
    audit = _rows(mesh, target, "SELECT actor, action, target FROM audit_log ORDER BY id")
    assert {(a["actor"], a["action"]) for a in audit} == {(f"cli:{getpass.getuser()}", "import")}
    assert sorted(a["target"] for a in audit) == sorted(f"person:{p['person_id']}" for p in people)


def test_a_taken_name_fails_the_import_unless_told_to_skip_or_merge(mesh, target, bundle):
    assert _run(mesh, target, "import", str(bundle)).returncode == 0
    before = _rows(mesh, target, GALLERY)

    again = _run(mesh, target, "import", str(bundle))
    assert again.returncode == 1
    names = [person["name"] for person in json.loads(bundle.read_text())["people"]]
    assert f"{len(names)} name(s) already enrolled: {names[0]!r}" in again.stderr
    assert "--on-conflict merge" in again.stderr
    assert _rows(mesh, target, GALLERY) == before, "a refused import writes nothing"

    skipped = _run(mesh, target, "import", str(bundle), "--on-conflict", "skip", "--json")
    assert skipped.returncode == 0 and {p["outcome"] for p in json.loads(skipped.stdout)["people"]} == {
        "skipped"
    }
    assert _rows(mesh, target, GALLERY) == before

    data = json.loads(bundle.read_text())
    obama = next(p for p in data["people"] if p["name"] == "obama")
    obama["photos"].append({**obama["photos"][0], "path": "not-here/obama-elsewhere.jpg"})
    bundle.write_text(json.dumps(data))
    merged = _run(mesh, target, "import", str(bundle), "--on-conflict", "merge", "--json")
    assert merged.returncode == 0, merged.stderr[-2000:]
    # Other tests' people may have photos without files too; this one must be among those named.
    assert "not-here/obama-elsewhere.jpg" in json.loads(merged.stdout)["missing_files"]
    assert "no file under IMAGE_ROOT" in merged.stderr
    paths = [r["path"] for r in _rows(mesh, target, GALLERY) if r["name"] == "obama"]
    assert "not-here/obama-elsewhere.jpg" in paths and len(paths) == len(obama["photos"])


def test_a_bundle_of_another_model_is_refused_naming_both_models(mesh, target, bundle):
    data = json.loads(bundle.read_text())
    data["model"]["files"]["dlib_face_recognition_resnet_model_v1.dat"] = "ab" * 32
    bundle.write_text(json.dumps(data))

    refused = _run(mesh, target, "import", str(bundle))
    assert refused.returncode == 1
    assert "bundle was made with model" in refused.stderr
    assert f"this deployment runs model {installed_model().id}" in refused.stderr
    assert _rows(mesh, target, "SELECT id FROM person") == []
