"""The schema version a service needs: the migrations it ships, compared with those applied.

A service may start before, during or after `kubeface migrate`. Tables appear one by one while a
migration runs, so "some table exists" says nothing; yoyo records a migration in
`_yoyo_migration` only after its statements ran, so "every shipped id is recorded" does.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pymysql
from pymysql.constants import ER
from yoyo import read_migrations
from yoyo.migrations import MigrationList, default_migration_table

# Tables (and the columns of them) a migration in flight may not have created yet.
_NOT_YET_CREATED = {ER.NO_SUCH_TABLE, ER.BAD_FIELD_ERROR}


class SchemaMissing(RuntimeError):
    """The database answers but is not yet at the schema version this code ships."""


def shipped_migrations(migrations_dir: Path) -> MigrationList:
    """The migrations in `migrations_dir`, as `kubeface migrate` applies them."""
    return read_migrations(str(migrations_dir))


@lru_cache(maxsize=4)
def shipped_migration_ids(migrations_dir: Path) -> frozenset[str]:
    ids = frozenset(migration.id for migration in shipped_migrations(migrations_dir))
    if not ids:
        # A wrong MIGRATIONS_DIR does not fix itself: fail at once rather than wait.
        raise RuntimeError(f"no migrations found in {migrations_dir}; set MIGRATIONS_DIR to the SQL files")
    return ids


def require_schema(cur: pymysql.cursors.DictCursor, migrations_dir: Path) -> None:
    """Raise SchemaMissing, naming what is missing, unless every shipped migration is applied."""
    shipped = shipped_migration_ids(migrations_dir)
    try:
        cur.execute(f"SELECT migration_id FROM {default_migration_table}")
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
    if isinstance(exc, SchemaMissing | pymysql.err.OperationalError):
        return True
    return isinstance(exc, pymysql.err.ProgrammingError) and exc.args[0] in _NOT_YET_CREATED
