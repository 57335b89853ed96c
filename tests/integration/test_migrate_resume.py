"""A migration cut short finishes on the next run (the migrate Job's next pod), on real MariaDB.

MariaDB commits each DDL statement at once, so a `kubeface migrate` killed in the middle of a
migration leaves that migration's first statements applied and the migration not recorded. The
next run applies the whole migration again. It used to fail for ever, with
`(1305, 'SAVEPOINT sp_1 does not exist')`, which hid "Table 'person' already exists".
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pymysql
import pytest
import sqlparse

from tests.servers import REPO, ServerProcess, as_tests_account, kubeface_argv, mysql_root, wait_until

pytestmark = pytest.mark.mesh

SHIPPED = sorted((REPO / "migrations").glob("*.sql"))


def _statements(path: Path) -> list[str]:
    """The migration's statements, split as yoyo splits them."""
    return [s for s in sqlparse.split(path.read_text()) if sqlparse.format(s, strip_comments=True).strip()]


# Every shipped migration, cut after each of its statements (the last: all ran, none recorded).
CUTS = [(path.name, done) for path in SHIPPED for done in range(1, len(_statements(path)) + 1)]


def _migrate(mesh, database: str, **env: str) -> None:
    """`kubeface migrate` on `database`, as the Job runs it; it must succeed."""
    run = mesh.run("migrate", env={**as_tests_account(database), **env})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


def _schema(mesh, database: str) -> dict[str, object]:
    """Each table's definition and the rows of gallery_writes: what the services rely on."""
    conn = pymysql.connect(**{**mesh.db_params, "database": database})
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = sorted(row[0] for row in cur.fetchall() if not row[0].startswith(("_yoyo", "yoyo")))
            schema: dict[str, object] = {}
            for table in tables:
                cur.execute(f"SHOW CREATE TABLE `{table}`")
                schema[table] = cur.fetchone()[1]
            cur.execute("SELECT id, writes FROM gallery_writes")
            schema["gallery_writes rows"] = cur.fetchall()
            cur.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
            schema["recorded"] = [row[0] for row in cur.fetchall()]
            return schema
    finally:
        conn.close()


def _run_until(mesh, database: str, migration: str, done: int, scratch: Path) -> None:
    """Leave `database` as a run killed after `done` statements of `migration` leaves it."""
    ahead = [path for path in SHIPPED if path.name < migration]
    if ahead:
        staged = scratch / "earlier-migrations"
        staged.mkdir()
        for path in ahead:
            (staged / path.name).write_text(path.read_text())
        _migrate(mesh, database, MIGRATIONS_DIR=str(staged))
    conn = pymysql.connect(**{**mesh.db_params, "database": database}, autocommit=True)
    try:
        with conn.cursor() as cur:
            for statement in _statements(REPO / "migrations" / migration)[:done]:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def migrated_schema(mesh):
    """The schema an uninterrupted `kubeface migrate` makes, on a database of its own."""
    name = f"kubeface_clean_{uuid.uuid4().hex[:8]}"
    mysql_root(
        mesh.mariadb_socket,
        f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
        f"GRANT ALL PRIVILEGES ON {name}.* TO 'kubeface'@'127.0.0.1';",
    )
    try:
        _migrate(mesh, name)
        yield _schema(mesh, name)
    finally:
        mysql_root(mesh.mariadb_socket, f"DROP DATABASE {name}")


@pytest.mark.parametrize(("migration", "done"), CUTS, ids=[f"{m}-after-{n}" for m, n in CUTS])
def test_a_migration_cut_short_is_finished_by_the_next_run(
    mesh, empty_database, migrated_schema, migration, done, tmp_path
):
    _run_until(mesh, empty_database, migration, done, tmp_path)

    _migrate(mesh, empty_database)

    assert _schema(mesh, empty_database) == migrated_schema


def test_a_migrate_killed_mid_migration_is_finished_by_the_next_run(
    mesh, empty_database, migrated_schema, tmp_path
):
    """What a Job pod killed (evicted, out of memory, its node lost) leaves, the next pod finishes:
    the first tables and the migration lock, which dies with the killed run's connection."""
    stalled = tmp_path / "migrations"
    stalled.mkdir()
    for path in SHIPPED:
        sql = path.read_text()
        if path.name.startswith("0001"):
            sql = sql.replace("COLLATE=utf8mb4_bin;", "COLLATE=utf8mb4_bin;\n\nDO SLEEP(120);", 1)
        (stalled / path.name).write_text(sql)
    env = {**mesh.env, **as_tests_account(empty_database), "MIGRATIONS_DIR": str(stalled)}
    killed = ServerProcess("migrate-killed", kubeface_argv("migrate"), mesh.log_dir, env).start()
    try:
        wait_until(lambda: _tables(mesh, empty_database) >= {"person"}, 60, "the first table", killed)
    finally:
        killed.kill()

    _migrate(mesh, empty_database)

    assert _schema(mesh, empty_database) == migrated_schema


def _tables(mesh, database: str) -> set[str]:
    rows = mesh.sql(
        "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = %s", (database,)
    )
    return {row["t"] for row in rows}


def test_a_failing_statement_reports_its_own_error(mesh, empty_database, tmp_path):
    """Not "SAVEPOINT sp_N does not exist": the operator reads which statement failed and why."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for path in SHIPPED:
        (migrations / path.name).write_text(path.read_text())
    # The second fails, and being DDL it first commits (releasing yoyo's savepoint), as any
    # statement of a migration run again after a cut would.
    (migrations / "9999_broken.sql").write_text("CREATE TABLE resume_probe (id INT);\n\n" * 2)

    failed = mesh.run("migrate", env={**as_tests_account(empty_database), "MIGRATIONS_DIR": str(migrations)})

    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "Table 'resume_probe' already exists" in output, output[-2000:]
    assert "SAVEPOINT" not in output
