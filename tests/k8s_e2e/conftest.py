"""`make k8s-e2e`: the local overlay on a real cluster (`make cluster`, images loaded).

Collected only with K8S_E2E=1 (the make target sets it), so `make test` never needs a cluster.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pymysql
import pytest

from kubeface.samples import lay_out_samples
from tests.k8s_e2e.kube import NAMESPACE, cluster_ip, helper_pod, kubectl, require_cluster, wait_for

REPO = Path(__file__).resolve().parents[2]
OVERLAY = REPO / "k8s" / "overlays" / "local"
# The overlay's dev-only Secret values (k8s/overlays/local/kustomization.yaml).
API_TOKEN = "local-dev-only-token"
OPERATOR = ("operator", "local-dev-only-operator")  # the frontend's login (FRONTEND_USER, kubeface-frontend)
MYSQL_USER, MYSQL_PASSWORD = "kubeface", "local-dev-only"
DEPLOY_TIMEOUT_SECONDS = 900
# Copies of one photo of Obama that each stream may post (laid out once, as hard links).
STREAM_PHOTOS = 5000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("K8S_E2E") == "1":
        return
    skip = pytest.mark.skip(reason="needs a cluster: make cluster, then make k8s-e2e")
    for item in items:
        if "k8s_e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def run_id() -> str:
    """This run's paths and names: runs share the cluster, never each other's data."""
    return f"e2e-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:4]}"


@pytest.fixture(scope="session")
def deployed() -> None:
    """`kubectl apply -k k8s/overlays/local`, then the migrate Job and every workload ready."""
    require_cluster()
    # A Job's pod template is immutable: the one of an earlier apply goes first (k8s/README.md).
    subprocess.run(
        ["kubectl", "-n", NAMESPACE, "delete", "job", "kubeface-migrate", "--ignore-not-found", "--wait"],
        check=True,
        capture_output=True,
    )
    started = time.monotonic()
    apply = subprocess.run(
        ["kubectl", "apply", "-k", str(OVERLAY)], capture_output=True, text=True, check=False
    )
    assert apply.returncode == 0, apply.stdout + apply.stderr
    kubectl(
        "wait", "--for=condition=complete", "job/kubeface-migrate", f"--timeout={DEPLOY_TIMEOUT_SECONDS}s"
    )
    for kind in ("statefulset", "deployment"):
        for name in kubectl("get", kind, "-o", "name").split():
            kubectl("rollout", "status", name, f"--timeout={DEPLOY_TIMEOUT_SECONDS}s")
    print(f"deployed and ready in {time.monotonic() - started:.0f} s")  # noqa: T201 - timing for the report


@pytest.fixture(scope="session")
def photos(deployed, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample photos and the streams' copies on the images volume, under e2e/<run>/; the prefix."""
    root = tmp_path_factory.mktemp("photos")
    run_dir = root / "e2e" / run_id
    lay_out_samples(run_dir)
    (run_dir / "known").mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copy(run_dir / name, run_dir / "known" / name)
    (run_dir / "stream").mkdir()
    for index in range(STREAM_PHOTOS):
        os.link(run_dir / "obama2.jpg", run_dir / "stream" / f"{index:04}.jpg")
    _upload(root)
    return f"e2e/{run_id}"


def _upload(root: Path) -> None:
    """Untar `root` onto the images volume, from a pod that mounts it read-write (the app pods
    mount it read-only); hard links stay links, so thousands of copies cost one photo."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for child in root.iterdir():  # not ".": the volume's root is not ours to chmod
            tar.add(child, arcname=child.name)
    with helper_pod("photo-loader", mount_images=True) as name:
        kubectl(
            "exec",
            "-i",
            name,
            "--",
            "tar",
            "-x",
            "--no-same-owner",
            "-C",
            "/data/images",
            stdin=buffer.getvalue(),
        )


@pytest.fixture(scope="session")
def receiver_url(deployed) -> str:
    return f"http://{cluster_ip('receiver')}:8000"


@pytest.fixture(scope="session")
def frontend_url(deployed) -> str:
    return f"http://{cluster_ip('frontend')}:8081"


@pytest.fixture(scope="session")
def api(receiver_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=receiver_url, timeout=30, headers={"authorization": f"Bearer {API_TOKEN}"}
    ) as client:
        yield client


@pytest.fixture(scope="session")
def sql(deployed):
    """Queries on the in-cluster MariaDB, as the app's admin account (never rolled by the test)."""
    host = cluster_ip("mysql")

    def query(statement: str, params: tuple = ()) -> list[dict]:
        conn = pymysql.connect(
            host=host,
            user=MYSQL_USER,
            password=MYSQL_PASSWORD,
            database="kubeface",
            cursorclass=pymysql.cursors.DictCursor,
            autocommit=True,
            connect_timeout=10,
        )
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params or None)
                return list(cur.fetchall())
        finally:
            conn.close()

    wait_for(lambda: _answers(query), 120, "MariaDB through its Service")
    return query


def _answers(query) -> bool:
    try:
        return query("SELECT 1 AS one")[0]["one"] == 1
    except pymysql.err.MySQLError:
        return False


class PhotoPool:
    """The copies of obama2.jpg on the images volume (conftest `photos`), each handed out once."""

    def __init__(self, photos: str) -> None:
        self.photos = photos
        self._indices = iter(range(STREAM_PHOTOS))
        self._lock = threading.Lock()

    def fresh(self) -> str:
        with self._lock:
            index = next(self._indices, None)
        assert index is not None, f"all {STREAM_PHOTOS} stream photos posted: raise STREAM_PHOTOS"
        return f"{self.photos}/stream/{index:04}.jpg"


@pytest.fixture(scope="session")
def pool(photos: str) -> PhotoPool:
    return PhotoPool(photos)


@pytest.fixture(scope="session")
def enrolled(api: httpx.Client, photos: str) -> dict[str, str]:
    """Obama and Biden enrolled from this run's photos, or already enrolled by an earlier run (409):
    one person each, so that a photo of Obama has exactly one right answer."""
    names = {"obama": "obama", "biden": "biden"}
    for who, name in names.items():
        response = api.post("/person", json={"name": name, "paths": [f"{photos}/known/{who}.jpg"]})
        assert response.status_code in (201, 409), response.text
    return names


def final_state(api: httpx.Client, image_id: int) -> dict:
    holder: dict = {}

    def final() -> bool:
        holder.update(api.get(f"/image/{image_id}").json())
        return holder["status"] in ("PROCESSED", "PENDING", "FAILED")

    wait_for(final, 300, f"image {image_id} to be final")
    return holder


def recognised_as(api: httpx.Client, sql, path: str) -> tuple[str, str | None]:
    posted = api.post("/image/post", json={"path": path})
    assert posted.status_code in (200, 202), posted.text
    final_state(api, posted.json()["id"])
    (row,) = sql(
        "SELECT i.status, p.name FROM images i LEFT JOIN person p ON p.id = i.person_id WHERE i.path = %s",
        (path,),
    )
    return row["status"], row["name"]
