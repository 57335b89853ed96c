"""/readyz names a TLS refusal (a setting to change), not just "database unreachable"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI

from kubeface.db_tls import DatabaseTlsError
from kubeface.http_metrics import install_probes

REFUSAL = "MYSQL_SSL_MODE=verify_identity: MySQL at db:3306 failed verification (x); set MYSQL_SSL_CA"


class RefusingDatabase:
    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise DatabaseTlsError(REFUSAL)
        yield


def test_readyz_says_the_database_refused_tls_and_why() -> None:
    app = FastAPI()
    install_probes(app, lambda _: RefusingDatabase())  # type: ignore[arg-type,return-value]

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get("/readyz")

    response = asyncio.run(get())
    assert response.status_code == 503
    assert response.json() == {"status": "database TLS refused", "cause": REFUSAL}
