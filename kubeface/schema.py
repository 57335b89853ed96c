"""The schema version a service needs: the migrations it ships, compared with those applied.

A service may start before, during or after `kubeface migrate`. Tables appear one by one while a
migration runs, so "some table exists" says nothing; yoyo records a migration in
`_yoyo_migration` only after its statements ran, so "every shipped id is recorded" does.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pymysql
from pymysql.constants import ER

from kubeface.db_tls import DatabaseTlsError

if TYPE_CHECKING:
    from yoyo.migrations import MigrationList

# Tables (and the columns of them) a migration in flight may not have created yet.
_NOT_YET_CREATED = {ER.NO_SUCH_TABLE, ER.BAD_FIELD_ERROR}
# yoyo's table of applied migrations (yoyo.migrations.default_migration_table).
MIGRATION_TABLE = "_yoyo_migration"


class SchemaMissing(RuntimeError):
    """The database answers but is not yet at the schema version this code ships."""


def shipped_migrations(migrations_dir: Path) -> MigrationList:
    """The migrations in `migrations_dir`, as `kubeface migrate` applies them."""
    from yoyo import read_migrations

    return read_migrations(str(migrations_dir))


@lru_cache(maxsize=4)
def shipped_migration_ids(migrations_dir: Path) -> frozenset[str]:
    """The ids yoyo gives the migrations in `migrations_dir`: each .sql or .py file's name less
    its suffix, but rollbacks, post-apply hooks and yoyo's temporary files.

    From the file names, not yoyo's read_migrations: every service and command checks this at
    start, and importing yoyo was a twentieth of `kubeface status` (issue 15); a unit test
    checks that both give the same ids.
    """
    files = sorted(migrations_dir.iterdir()) if migrations_dir.is_dir() else []
    ids = frozenset(
        path.stem
        for path in files
        if path.is_file()
        and path.suffix in {".sql", ".py"}
        and not path.name.endswith(".rollback.sql")
        and not path.name.startswith(("post-apply", "_tmp_yoyonew"))
    )
    if not ids:
        # A wrong MIGRATIONS_DIR does not fix itself: fail at once rather than wait.
        raise RuntimeError(f"no migrations found in {migrations_dir}; set MIGRATIONS_DIR to the SQL files")
    return ids


def require_schema(cur: pymysql.cursors.DictCursor, migrations_dir: Path) -> None:
    """Raise SchemaMissing, naming what is missing, unless every shipped migration is applied."""
    shipped = shipped_migration_ids(migrations_dir)
    try:
        cur.execute(f"SELECT migration_id FROM {MIGRATION_TABLE}")
    except pymysql.err.ProgrammingError as exc:
        if exc.args[0] != ER.NO_SUCH_TABLE:
            raise
        raise SchemaMissing("no migration applied yet: run `kubeface migrate`") from exc
    applied = {row["migration_id"] for row in cur.fetchall()}
    missing = sorted(shipped - applied)
    if missing:
        raise SchemaMissing(f"migrations not applied yet: {', '.join(missing)}; run `kubeface migrate`")


def may_pass(exc: BaseException) -> bool:
    """Whether a database error at start can go away by itself: MySQL still starting, grants or
    tables not there yet because a migration is running."""
    if isinstance(exc, DatabaseTlsError):
        return False  # an OperationalError too (db.DatabaseTlsRefused), but a setting to change
    if isinstance(exc, SchemaMissing | pymysql.err.OperationalError):
        return True
    return isinstance(exc, pymysql.err.ProgrammingError) and exc.args[0] in _NOT_YET_CREATED
