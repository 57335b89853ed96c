"""Apply the versioned SQL files in migrations/ with yoyo; applying them twice is a no-op."""

from __future__ import annotations

import logging
from urllib.parse import quote

from yoyo import get_backend, read_migrations

from kubeface.db import Database
from kubeface.settings import Settings

log = logging.getLogger(__name__)


def apply_migrations(settings: Settings) -> list[str]:
    """Apply every pending migration; return the ids that were applied."""
    Database(settings).wait_until_reachable(require_schema=False)
    url = "mysql://{user}:{password}@{host}:{port}/{db}".format(
        user=quote(settings.mysql_user, safe=""),
        password=quote(settings.mysql_password.get_secret_value(), safe=""),
        host=settings.mysql_host,
        port=settings.mysql_port,
        db=settings.mysql_database,
    )
    backend = get_backend(url)
    migrations = read_migrations(str(settings.migrations_dir))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    log.info("migrations applied", extra={"applied": applied, "pending_before": len(pending)})
    return applied
