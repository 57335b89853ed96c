"""Services started before and during a slow migration wait for the whole schema, then serve.

The migration sleeps after its first table, which is exactly when a service that only checked
"some table exists" used to read `person_images` and die with "Table ... doesn't exist".
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from kubeface.db import Database
from kubeface.schema import SchemaMissing
from tests.conftest import API_TOKEN, FINAL, service_ports, service_ready
from tests.servers import REPO, ServerProcess, kubeface_argv, wait_until

pytestmark = pytest.mark.mesh

SLOW_SECONDS = 6


def _slow_copy_of_migrations(target):
    """The shipped migrations (same ids), the first one pausing after its first statement."""
    target.mkdir()
    for source in sorted((REPO / "migrations").glob("0*")):  # .sql and yoyo's .py steps
        sql = source.read_text()
        if source.name.startswith("0001"):
            sql = re.sub(
                r"(CREATE TABLE IF NOT EXISTS person .*?;)",
                rf"\1\n\nDO SLEEP({SLOW_SECONDS});",
                sql,
                count=1,
                flags=re.S,
            )
            assert "SLEEP" in sql
        (target / source.name).write_text(sql)
    return target


def test_services_started_before_and_during_a_slow_migration_all_come_up(mesh, empty_database, tmp_path):
    ports = service_ports()
    env = {
        **mesh.env,
        **ports,
        "MYSQL_DATABASE": empty_database,
        "MYSQL_USER": mesh.db_params["user"],
        "MYSQL_PASSWORD": mesh.db_params["password"],
        "NSQ_TOPIC": f"start-{uuid.uuid4().hex[:8]}",  # its processor must not take the mesh's images
    }
    log_dir = mesh.log_dir
    started: dict[str, ServerProcess] = {}
    migrate = None
    try:
        for name in ("recognizer", "processor"):  # before the migration
            started[name] = ServerProcess(f"start-{name}", kubeface_argv(name), log_dir, env).start()
        slow_migrations = str(_slow_copy_of_migrations(tmp_path / "migrations"))
        migrate = ServerProcess(
            "start-migrate", kubeface_argv("migrate"), log_dir, {**env, "MIGRATIONS_DIR": slow_migrations}
        ).start()
        wait_until(lambda: bool(mesh.sql(f"SHOW TABLES FROM {empty_database} LIKE 'person'")), 60, "person")
        for name in ("receiver", "frontend"):  # while it runs: `person` exists, the rest not yet
            started[name] = ServerProcess(f"start-{name}", kubeface_argv(name), log_dir, env).start()
        assert migrate.popen.wait(120) == 0, migrate.log_tail()
        for name, proc in started.items():
            wait_until(lambda name=name: service_ready(name, env), 120, name, proc)
        assert all(proc.running for proc in started.values())
        _a_posted_image_is_recognised(f"http://127.0.0.1:{ports['RECEIVER_PORT']}")
    finally:
        if migrate is not None:
            migrate.kill()
        for proc in started.values():
            proc.stop()
    logs = "".join(proc.log_tail(400) for proc in started.values())
    assert "doesn't exist" not in logs and "Traceback" not in logs


def _a_posted_image_is_recognised(receiver_url: str) -> None:

    with httpx.Client(
        base_url=receiver_url, timeout=60, headers={"authorization": f"Bearer {API_TOKEN}"}
    ) as api:
        posted = api.post("/image/post", json={"path": "obama.jpg"})
        assert posted.status_code == 202, posted.text
        image_id = posted.json()["id"]
        wait_until(lambda: api.get(f"/image/{image_id}").json()["status"] in FINAL, 90, "a final outcome")
        image = api.get(f"/image/{image_id}").json()
    assert (image["status"], image["detail"]) == ("PENDING", "no known person matched")


def test_a_command_gives_up_in_time_while_services_wait(mesh, empty_database):
    settings = mesh.settings(mysql_database=empty_database)
    db = Database(settings)
    with pytest.raises(SchemaMissing, match="run `kubeface migrate`"):
        db.wait_until_reachable(timeout_seconds=1)
    db.close()
