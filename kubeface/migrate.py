"""Apply the versioned SQL files in migrations/ with yoyo; applying them twice is a no-op."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.constants import ER
from yoyo.backends.core.mysql import MySQLBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import default_migration_table

from kubeface.db import Connection, Database, connect
from kubeface.schema import shipped_migrations
from kubeface.settings import Settings

log = logging.getLogger(__name__)

# A migration Job gives up in time and lets its backoff retry; services wait as long as it takes.
MYSQL_WAIT_SECONDS = 300.0
# One GET_LOCK wait, below the connection's read timeout (kubeface/db.py); retried until the above.
LOCK_POLL_SECONDS = 10


def apply_migrations(settings: Settings) -> list[str]:
    """Apply every pending migration; return the ids that were applied."""
    Database(settings).wait_until_reachable(MYSQL_WAIT_SECONDS, require_schema=False)
    backend = _yoyo_backend(settings)
    migrations = shipped_migrations(settings.migrations_dir)
    with _migration_lock(settings):
        pending = backend.to_apply(migrations)
        with _statement_errors_unmasked():
            backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    log.info("migrations applied", extra={"applied": applied, "pending_before": len(pending)})
    return applied


def _yoyo_backend(settings: Settings) -> Any:
    """yoyo's MySQL backend, connecting as every other connection does (kubeface.db.connect: the
    same account and TLS), not by a URL of its own, which would carry neither TLS mode nor CA."""

    class Backend(MySQLBackend):  # type: ignore[misc]  # yoyo ships no types
        def connect(self, dburi: object) -> Connection:
            # yoyo reads rows as tuples; a migration may run longer than a query's read timeout.
            return connect(
                settings, cursorclass=pymysql.cursors.Cursor, read_timeout=None, write_timeout=None
            )

    # The URI only names the database for yoyo (a cache key, its logs); it holds no password.
    uri = DatabaseURI(
        "mysql",
        settings.mysql_user,
        None,
        settings.mysql_host,
        settings.mysql_port,
        settings.mysql_database,
        {},
    )
    backend = Backend(uri, default_migration_table)
    backend.init_database()
    return backend


@contextmanager
def _migration_lock(settings: Settings) -> Iterator[None]:
    """Hold the server's advisory lock for this database while migrating: one run at a time.

    Not yoyo's lock, a row in a table: a run killed while holding it (a Job pod evicted or out of
    memory) leaves the row behind, and every later run then fails with LockTimeout. MySQL releases
    GET_LOCK with the connection that took it, however the process ends.
    """
    name = f"kubeface_migrate.{settings.mysql_database}"[:64]
    conn = connect(settings)
    try:
        waited = 0
        with conn.cursor() as cur:
            while True:
                cur.execute("SELECT GET_LOCK(%s, %s) AS got", (name, LOCK_POLL_SECONDS))
                row = cur.fetchone()  # a SELECT without FROM: always one row
                if row is not None and row["got"] == 1:
                    break
                waited += LOCK_POLL_SECONDS
                if waited >= MYSQL_WAIT_SECONDS:
                    raise TimeoutError(f"another `kubeface migrate` held the lock {name!r} for {waited} s")
                log.info("waiting for another migration", extra={"lock": name, "waited_seconds": waited})
        yield
    finally:
        conn.close()


@contextmanager
def _statement_errors_unmasked() -> Iterator[None]:
    """Raise a failed statement's own error, not "SAVEPOINT sp_N does not exist".

    yoyo runs each statement under a savepoint and, when one fails, rolls back to it; MariaDB has
    already released that savepoint, because every DDL statement commits at once. The rollback's
    error then hides the statement's (for example "Table 'person' already exists").
    """
    try:
        yield
    except pymysql.err.OperationalError as exc:
        cause = exc.__context__
        if exc.args[0] == ER.SP_DOES_NOT_EXIST and isinstance(cause, pymysql.err.MySQLError):
            raise cause from None
        raise


def create_service_accounts(settings: Settings, host: str = "%") -> list[str]:
    """Create or update every service's account (kubeface/db_accounts.py); the accounts' names."""
    import os

    from kubeface.db_accounts import GRANTS, account_name, account_statements

    services = [service for service in GRANTS if service != "migrate"]
    missing = [
        f"KUBEFACE_{service.upper()}_PASSWORD"
        for service in services
        if not os.environ.get(f"KUBEFACE_{service.upper()}_PASSWORD")
    ]
    if missing:
        raise SystemExit(f"error: set {', '.join(missing)}: every account needs its own password")
    passwords = {service: os.environ[f"KUBEFACE_{service.upper()}_PASSWORD"] for service in services}
    db = Database(settings)
    try:
        with db.transaction() as cur:
            for statement in account_statements(settings.mysql_database, passwords, host, services):
                cur.execute(statement)
    finally:
        db.close()
    names = [account_name(service) for service in services]
    log.info("service accounts ready", extra={"accounts": names, "host": host})
    return names
