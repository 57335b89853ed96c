"""Apply the versioned SQL files in migrations/ with yoyo; applying them twice is a no-op."""

from __future__ import annotations

import logging
from urllib.parse import quote

from yoyo import get_backend

from kubeface.db import Database
from kubeface.schema import shipped_migrations
from kubeface.settings import Settings

log = logging.getLogger(__name__)

# A migration Job gives up in time and lets its backoff retry; services wait as long as it takes.
MYSQL_WAIT_SECONDS = 300.0


def apply_migrations(settings: Settings) -> list[str]:
    """Apply every pending migration; return the ids that were applied."""
    Database(settings).wait_until_reachable(MYSQL_WAIT_SECONDS, require_schema=False)
    url = "mysql://{user}:{password}@{host}:{port}/{db}".format(
        user=quote(settings.mysql_user, safe=""),
        password=quote(settings.mysql_password.get_secret_value(), safe=""),
        host=settings.mysql_host,
        port=settings.mysql_port,
        db=settings.mysql_database,
    )
    backend = get_backend(url)
    migrations = shipped_migrations(settings.migrations_dir)
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    log.info("migrations applied", extra={"applied": applied, "pending_before": len(pending)})
    return applied


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
