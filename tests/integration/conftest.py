"""The one check that the mesh tests keep their faces to their roles (tests.photos)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from kubeface.db import Database
from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from tests.photos import NEVER_ENROLLED, SESSION_FACE
from tests.servers import as_tests_account


@pytest.fixture
def db(mesh) -> Iterator[Database]:
    """The mesh's database, as the tests' account, for code under test that takes a Database."""
    database = Database(mesh.settings())
    yield database
    database.close()


@pytest.fixture
def own_db(mesh, empty_database) -> Iterator[Callable[..., Database]]:
    """Databases (`own_db(**settings)`) on a migrated database of the test's own: for checks
    against every row of a table, which other tests' rows would disturb."""
    account = as_tests_account(empty_database)
    run = mesh.run("migrate", env=account)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    opened: list[Database] = []

    def open_db(**overrides: Any) -> Database:
        opened.append(Database(mesh.settings(mysql_database=empty_database, **overrides)))
        return opened[-1]

    yield open_db
    for database in opened:
        database.close()


def _uses_mesh(request: pytest.FixtureRequest) -> bool:
    return any(
        "mesh" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    )


@pytest.fixture(scope="module", autouse=True)
def faces_keep_their_roles(request: pytest.FixtureRequest):
    """After each mesh module: no enrolled person matches a face that tests expect to be unknown,
    and the session's Obama is still recognised as "obama".

    A module that enrolled one of those faces (or a copy) under a name of its own would make
    other tests pass or fail by the order the modules ran in; this names the module that did it.
    """
    if not _uses_mesh(request):
        yield
        return
    mesh = request.getfixturevalue("mesh")
    yield
    sample = NEVER_ENROLLED[0]
    matched = _names(mesh.recognizer_address, sample)
    assert not matched, (
        f"{request.module.__name__} left {sample} (a face in tests.photos.NEVER_ENROLLED) recognised"
        f" as {matched}: enrol one of the other faces under a name of the test's own"
    )
    name, photo = SESSION_FACE
    assert _names(mesh.recognizer_address, photo) == [name], (
        f"{request.module.__name__} left {photo} recognised as {_names(mesh.recognizer_address, photo)},"
        f" not {name!r}: it enrolled Obama's face (or a copy) under another name"
    )


def _names(recognizer_address: str, image_path: str) -> list[str]:
    with grpc.insecure_channel(recognizer_address) as channel:
        reply = pb_grpc.RecognizerStub(channel).Identify(
            pb.IdentifyRequest(image_path=image_path), timeout=60
        )
    return [face.named.person_name for face in reply.faces if face.HasField("named")]
