"""MySQL connections skip TLS on this machine's loopback only; elsewhere pymysql's default holds."""

from __future__ import annotations

import pymysql
import pytest

from kubeface import db, db_tls
from kubeface.settings import Settings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"])
def test_tls_is_skipped_for_a_database_on_the_loopback(host: str) -> None:
    assert db_tls.on_this_machine(host)


@pytest.mark.parametrize("host", ["mariadb", "mariadb.kubeface.svc", "10.0.0.5", "2001:db8::1", "0.0.0.0"])
def test_a_database_over_the_network_keeps_tls_when_the_server_offers_it(host: str) -> None:
    assert not db_tls.on_this_machine(host)


def test_connect_passes_the_choice_to_pymysql(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []
    monkeypatch.setattr(pymysql, "connect", lambda **kwargs: seen.append(kwargs))
    db.connect(Settings(_env_file=None, mysql_host="127.0.0.1"))
    db.connect(Settings(_env_file=None, mysql_host="mariadb"))
    assert [kwargs["ssl_disabled"] for kwargs in seen] == [True, False]
