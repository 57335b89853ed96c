"""Session fixtures: one private MariaDB, nsqlookupd and nsqd, and the kubeface services on top."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pymysql
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kubeface.db_accounts import GRANTS, account_name, account_statements
from kubeface.images.counts import recount
from kubeface.settings import Settings
from tests.photos import photo_copy, populate_image_root
from tests.servers import (
    ServerProcess,
    base_env,
    free_port,
    kubeface_argv,
    mysql_root,
    start_mariadb,
    start_nsq,
    wait_until,
)

FINAL = {"PROCESSED", "PENDING", "FAILED"}
# The mesh runs with write auth on, as production should; `Mesh.api()` sends the token.
API_TOKEN = "test-api-token-0123456789"
# The session's frontend has no operator login, so it is read-only (the `make run` default);
# `Mesh.operator_frontend()` starts a second one with this login for the write forms.
OPERATOR = ("operator", "test-operator-password")


@dataclass
class Mesh:
    """The running system; tests talk to it through `api` and `sql`, and may restart services."""

    env: dict[str, str]
    log_dir: Path
    image_root: Path
    receiver_url: str
    frontend_url: str
    recognizer_address: str
    processor_metrics_url: str
    db_params: dict
    services: dict[str, ServerProcess] = field(default_factory=dict)
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)  # service -> its MySQL login
    # MariaDB, nsqlookupd and nsqd by name, so that fault tests can stop and start them again
    # (`ServerProcess.start()` reuses the same argv: same ports, datadir and -data-path).
    infra: dict[str, ServerProcess] = field(default_factory=dict)
    mariadb_socket: Path | None = None
    operator_url: str = ""  # set by operator_frontend()

    def start(
        self,
        name: str,
        timeout: float = 120,
        *,
        instance: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        """Start a service (or another `instance` of it, with `env` overrides) and wait until ready."""
        env = {**self.env, **self.accounts.get(name, {}), **(env or {})}
        instance = instance or name
        proc = ServerProcess(instance, kubeface_argv(name), self.log_dir, env).start()
        self.services[instance] = proc
        wait_until(lambda: service_ready(name, env), timeout, instance, proc)
        return proc

    def settings(self, **overrides: object) -> Settings:
        """Settings for code under test that talks to the mesh's MariaDB as the tests' account."""
        params = self.db_params
        connection = {
            "mysql_host": params["host"],
            "mysql_port": params["port"],
            "mysql_user": params["user"],
            "mysql_password": params["password"],
            "mysql_database": params["database"],
        }
        return Settings(_env_file=None, **{**connection, **overrides})

    def operator_frontend(self) -> str:
        """The URL of a frontend with an operator login (OPERATOR), started on first use."""
        if "frontend-operator" not in self.services:
            port = free_port()
            operator = {
                "FRONTEND_PORT": str(port),
                "FRONTEND_USER": OPERATOR[0],
                "FRONTEND_PASSWORD": OPERATOR[1],
            }
            self.start("frontend", instance="frontend-operator", env=operator)
            self.operator_url = f"http://127.0.0.1:{port}"
        return self.operator_url

    def operator(self) -> httpx.Client:
        """A client of the operator frontend, signed in."""
        return httpx.Client(base_url=self.operator_frontend(), auth=OPERATOR, timeout=120)

    def stop(self, instance: str) -> int | None:
        return self.services[instance].stop()

    def recognizer_serving(self) -> bool:
        return recognizer_serving(self.recognizer_address)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
        import subprocess

        return subprocess.run(
            kubeface_argv(*args),
            env={**self.env, **self.accounts.get(args[0], {}), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def api(self, token: str | None = API_TOKEN) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.receiver_url, timeout=120, headers=headers)

    def sql(self, query: str, params: tuple | dict = ()) -> list[dict]:
        conn = pymysql.connect(**self.db_params, cursorclass=pymysql.cursors.DictCursor, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params or None)
                return list(cur.fetchall())
        finally:
            conn.close()

    def sql_bulk(self, query: str, params: tuple | dict = ()) -> list[dict]:
        """A raw write to `images`, as a bulk load or an operator's SQL would do, then what must
        follow one: the counters rebuilt (`kubeface recount`), so later tests see them agree."""
        rows = self.sql(query, params)
        conn = pymysql.connect(**self.db_params, autocommit=True)
        try:
            recount(conn)
        finally:
            conn.close()
        return rows

    def photo_copy(self, sample: str, folder: str = "copies") -> str:
        """A copy of a sample photo at a path of this test's own (see tests.photos.photo_copy)."""
        return photo_copy(self.image_root, sample, folder)

    def post(self, path: str) -> dict:
        with self.api() as api:
            response = api.post("/image/post", json={"path": path})
        assert response.status_code in (200, 202), response.text
        return response.json()

    def wait_final(self, image_id: int, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        with self.api() as api:
            while time.monotonic() < deadline:
                image = api.get(f"/image/{image_id}").json()
                if image["status"] in FINAL:
                    return image
                time.sleep(0.2)
        raise AssertionError(f"image {image_id} not final after {timeout}s: {image}")

    def metric(self, url: str, name: str, default: float | None = None) -> float:
        """A sample's value; `name` may carry labels exactly as exported, e.g. 'x{a="b"}'."""
        for line in httpx.get(url).text.splitlines():
            if line.startswith(name + " ") or ("{" not in name and line.startswith(name + "{")):
                return float(line.rsplit(" ", 1)[1])
        if default is not None:
            return default
        raise AssertionError(f"metric {name} not exported at {url}")


def _sql_script(statements: list[str]) -> str:
    return "".join(f"{statement};" for statement in statements)


def _http_ok(url: str) -> bool:
    return httpx.get(url).status_code == 200


def service_ports() -> dict[str, str]:
    """Free loopback ports for one set of the four services, as their settings."""
    receiver, frontend, recognizer, pmetrics, rmetrics = (free_port() for _ in range(5))
    return {
        "RECEIVER_PORT": str(receiver),
        "FRONTEND_PORT": str(frontend),
        "RECOGNIZER_PORT": str(recognizer),
        "RECOGNIZER_ADDRESS": f"127.0.0.1:{recognizer}",
        "PROCESSOR_METRICS_PORT": str(pmetrics),
        "RECOGNIZER_METRICS_PORT": str(rmetrics),
    }


def service_ready(name: str, env: dict[str, str]) -> bool:
    """Whether the service `name`, started with `env`, answers its readiness check."""
    if name == "recognizer":
        return recognizer_serving(f"127.0.0.1:{env['RECOGNIZER_PORT']}")
    port, route = {
        "receiver": ("RECEIVER_PORT", "readyz"),
        "frontend": ("FRONTEND_PORT", "healthz"),
        "processor": ("PROCESSOR_METRICS_PORT", "readyz"),
        "cluster": ("CLUSTER_METRICS_PORT", "metrics"),
    }[name]
    return _http_ok(f"http://127.0.0.1:{env[port]}/{route}")


def recognizer_serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture
def empty_database(mesh):
    """An empty database of its own on the mesh's MariaDB, which the tests' account may change."""
    name = f"kubeface_test_{uuid.uuid4().hex[:8]}"
    mysql_root(
        mesh.mariadb_socket,
        f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
        f"GRANT ALL PRIVILEGES ON {name}.* TO 'kubeface'@'127.0.0.1';",
    )
    yield name
    mysql_root(mesh.mariadb_socket, f"DROP DATABASE {name}")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path):
    work = tmp_path_factory.mktemp("mesh")
    log_dir = artifacts_dir / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir()
    image_root = work / "images"
    image_root.mkdir()
    populate_image_root(image_root)

    started: list[ServerProcess] = []  # infrastructure first, then services
    services: dict[str, ServerProcess] = {}  # the current process of each service, restarts included
    try:
        yield from _start_mesh(work, log_dir, image_root, started, services)
    finally:
        for proc in [*services.values(), *reversed(started)]:
            try:
                proc.stop(timeout=30)
            except Exception:  # noqa: BLE001 - keep stopping the others; stop() already killed this one
                proc.kill()


def _start_mesh(
    work: Path,
    log_dir: Path,
    image_root: Path,
    started: list[ServerProcess],
    services: dict[str, ServerProcess],
):
    mariadb, mysql_port, sock = start_mariadb(work / "mariadb", log_dir)
    started.append(mariadb)
    nsq = start_nsq(work, log_dir)
    started.extend([nsq["lookupd"], nsq["nsqd"]])
    # The tests' own account sees everything; each service runs under its least-privilege one.
    passwords = {service: f"test-{service}-secret" for service in GRANTS}
    mysql_root(
        sock,
        "CREATE DATABASE kubeface CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
        "CREATE USER 'kubeface'@'127.0.0.1' IDENTIFIED BY 'test-secret';"
        "GRANT ALL PRIVILEGES ON kubeface.* TO 'kubeface'@'127.0.0.1';"
        + _sql_script(account_statements("kubeface", passwords, "127.0.0.1", ["migrate"])),
    )
    ports = service_ports()
    env = base_env(
        {
            "IMAGE_ROOT": str(image_root),
            "MYSQL_HOST": "127.0.0.1",
            "MYSQL_PORT": str(mysql_port),
            # Commands that are not services (status, post) get the read-only account.
            "MYSQL_USER": account_name("frontend"),
            "MYSQL_PASSWORD": passwords["frontend"],
            "MYSQL_DATABASE": "kubeface",
            "API_TOKEN": API_TOKEN,
            "NSQD_HTTP_ADDRESS": f"127.0.0.1:{nsq['nsqd_http']}",
            "NSQLOOKUPD_HTTP_ADDRESSES": f"127.0.0.1:{nsq['lookupd_http']}",
            **ports,
            "PROCESSOR_WORKERS": "3",
            "BREAKER_PROBE_INITIAL_SECONDS": "0.5",
            "BREAKER_PROBE_MAX_SECONDS": "2",
            "BREAKER_REQUEUE_DELAY_SECONDS": "1",
            "GALLERY_REFRESH_SECONDS": "0.5",
        }
    )
    mesh = Mesh(
        env=env,
        log_dir=log_dir,
        image_root=image_root,
        receiver_url=f"http://127.0.0.1:{ports['RECEIVER_PORT']}",
        frontend_url=f"http://127.0.0.1:{ports['FRONTEND_PORT']}",
        recognizer_address=ports["RECOGNIZER_ADDRESS"],
        processor_metrics_url=f"http://127.0.0.1:{ports['PROCESSOR_METRICS_PORT']}/metrics",
        db_params={
            "host": "127.0.0.1",
            "port": mysql_port,
            "user": "kubeface",
            "password": "test-secret",
            "database": "kubeface",
        },
        services=services,
        accounts={
            service: {"MYSQL_USER": account_name(service), "MYSQL_PASSWORD": passwords[service]}
            for service in GRANTS
        },
        infra={"mariadb": mariadb, "nsqlookupd": nsq["lookupd"], "nsqd": nsq["nsqd"]},
        mariadb_socket=sock,
    )
    migrated = mesh.run("migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    mysql_root(sock, _sql_script(account_statements("kubeface", passwords, "127.0.0.1")))
    for name in ("recognizer", "receiver", "processor", "frontend"):
        mesh.start(name)
    # Obama is known to every test; Biden to none (tests.photos.NEVER_ENROLLED).
    with mesh.api() as api:
        enrolled = api.post("/person", json={"name": "obama", "paths": ["known/obama.jpg"]})
        assert enrolled.status_code == 201, enrolled.text
    # Every recognizer refreshes its gallery within GALLERY_REFRESH_SECONDS.
    time.sleep(1.5)
    yield mesh


# Suites run in this order for speed and process isolation only, never for correctness: fast
# and isolated first, then the shared mesh; the browser (whose Playwright loop stays in the main
# thread) and the fault tests (which restart servers) last. Within a suite, tests must pass in
# any order: KUBEFACE_TEST_ORDER=asis keeps the order given on the command line (or by a
# shuffling plugin), to check that.
_SUITE_ORDER = (
    "tests/unit/",
    "tests/k8s/",
    "tests/integration/",
    "tests/image/",
    "tests/load/",
    "tests/browser/",
    "tests/chaos/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("KUBEFACE_TEST_ORDER") == "asis":
        return

    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((index for index, prefix in enumerate(_SUITE_ORDER) if path.startswith(prefix)), 0)

    items.sort(key=rank)  # stable: keeps each suite's own order
