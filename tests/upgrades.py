"""A deployment upgraded across a migration: rows an older release wrote, then the new schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.servers import REPO, as_tests_account


def upgrade_across(
    mesh, database: str, version: str, folder: Path, before_upgrade: Callable[[], None]
) -> None:
    """Migrate `database` up to the migration before `version`, let `before_upgrade` write what
    the older release would have, then apply every shipped migration (each run must succeed)."""
    before = folder / "migrations-before"
    before.mkdir()
    for path in sorted((REPO / "migrations").iterdir()):
        if path.name < version:
            (before / path.name).write_text(path.read_text())
    for migrations in (before, REPO / "migrations"):
        run = mesh.run("migrate", env={**as_tests_account(database), "MIGRATIONS_DIR": str(migrations)})
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        if migrations == before:
            before_upgrade()
