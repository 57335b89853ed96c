"""The ids of the shipped migrations, read from file names, are the ids yoyo applies."""

from __future__ import annotations

from pathlib import Path

from yoyo import read_migrations
from yoyo.migrations import default_migration_table

from kubeface.schema import MIGRATION_TABLE, shipped_migration_ids

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def test_the_shipped_ids_are_yoyos():
    assert shipped_migration_ids(MIGRATIONS) == {m.id for m in read_migrations(str(MIGRATIONS))}
    assert "0001_initial" in shipped_migration_ids(MIGRATIONS)


def test_rollbacks_hooks_and_other_files_are_not_migrations(tmp_path):
    for name in (
        "0001_a.sql",
        "0001_a.rollback.sql",
        "0002_b.py",
        "post-apply.sql",
        "_tmp_yoyonew_x.sql",
        "README.md",
        "0003_c.sql.orig",
    ):
        (tmp_path / name).write_text("-- nothing\n")
    (tmp_path / "0004_folder.sql").mkdir()
    assert shipped_migration_ids(tmp_path) == {m.id for m in read_migrations(str(tmp_path))}
    assert shipped_migration_ids(tmp_path) == {"0001_a", "0002_b"}


def test_the_applied_table_is_yoyos():
    assert MIGRATION_TABLE == default_migration_table
