"""TLS to MySQL against a real MariaDB with TLS (one for the module), its certificates made here.

The server's certificate names `localhost` only, so that 127.0.0.1 is a name it does not hold:
verify_identity must refuse it where verify_ca accepts it.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest

from kubeface.db import Database, connect
from kubeface.db_tls import DatabaseTlsError
from kubeface.settings import Settings
from tests.servers import base_env, free_port, kubeface_argv, mysql_root, start_mariadb
from tests.tls import Pki, TlsStrippingProxy, make_pki

PASSWORD = "tls-test-secret"


@dataclass
class TlsServer:
    port: int
    pki: Pki
    socket: Path

    def settings(self, **overrides: Any) -> Settings:
        """Settings for the test's account (its database: `kubeface`), verified by default."""
        values: dict[str, Any] = {
            "mysql_host": "localhost",
            "mysql_port": self.port,
            "mysql_user": "tls",
            "mysql_password": PASSWORD,
            "mysql_database": "kubeface",
            "mysql_ssl_mode": "verify_identity",
            "mysql_ssl_ca": self.pki.ca,
        }
        return Settings(_env_file=None, **{**values, **overrides})

    def env(self, settings: Settings) -> dict[str, str]:
        """The environment of a `kubeface` command with these settings."""
        env = {
            "MYSQL_HOST": settings.mysql_host,
            "MYSQL_PORT": str(settings.mysql_port),
            "MYSQL_USER": settings.mysql_user,
            "MYSQL_PASSWORD": settings.mysql_password.get_secret_value(),
            "MYSQL_DATABASE": settings.mysql_database,
            "MYSQL_SSL_MODE": str(settings.mysql_ssl_mode),
        }
        for name in ("ca", "cert", "key"):
            value = getattr(settings, f"mysql_ssl_{name}")
            if value is not None:
                env[f"MYSQL_SSL_{name.upper()}"] = str(value)
        return base_env(env)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    workdir = tmp_path_factory.mktemp("tls-mariadb")
    pki = make_pki(workdir / "pki", "DNS:localhost")
    tls = (f"--ssl-ca={pki.ca}", f"--ssl-cert={pki.server_cert}", f"--ssl-key={pki.server_key}")
    proc, port, sock = start_mariadb(workdir, workdir, tls)
    # `tls` may connect with or without TLS; `x509` only with a client certificate from the CA.
    mysql_root(
        sock,
        f"CREATE DATABASE kubeface; CREATE USER 'tls'@'%' IDENTIFIED BY '{PASSWORD}';"
        f" CREATE USER 'x509'@'%' IDENTIFIED BY '{PASSWORD}' REQUIRE X509;"
        " GRANT ALL ON *.* TO 'tls'@'%'; GRANT ALL ON *.* TO 'x509'@'%';",
    )
    yield TlsServer(port, pki, sock)
    proc.stop()


def cipher(settings: Settings) -> str:
    """The TLS cipher of a new connection with these settings; empty when it is plaintext."""
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
            row = cur.fetchone()
            return str(row["Value"]) if row else ""
    finally:
        conn.close()


def test_verify_identity_with_the_servers_ca_connects_encrypted(tls_server: TlsServer) -> None:
    assert cipher(tls_server.settings()) != ""


def test_verify_identity_refuses_a_host_name_the_certificate_does_not_hold(tls_server: TlsServer) -> None:
    with pytest.raises(DatabaseTlsError, match="MYSQL_SSL_MODE=verify_identity.*mismatch.*MYSQL_HOST"):
        cipher(tls_server.settings(mysql_host="127.0.0.1"))
    # verify_ca checks the chain, not the name.
    assert cipher(tls_server.settings(mysql_host="127.0.0.1", mysql_ssl_mode="verify_ca")) != ""


def test_a_server_signed_by_another_ca_is_refused_at_start_without_waiting(tls_server: TlsServer) -> None:
    settings = tls_server.settings(mysql_ssl_ca=tls_server.pki.other_ca)
    db = Database(settings)
    try:
        # A service waits as long as it takes for a database that may still come up; a failed
        # verification does not pass by itself, so it stops the wait at once.
        with pytest.raises(DatabaseTlsError, match="failed verification.*set MYSQL_SSL_CA") as refused:
            db.wait_until_reachable(timeout_seconds=120, require_schema=False)
    finally:
        db.close()
    assert str(tls_server.pki.other_ca) in str(refused.value)


def test_required_refuses_a_server_whose_tls_a_man_in_the_middle_strips(tls_server: TlsServer) -> None:
    proxy = TlsStrippingProxy(tls_server.port)
    try:
        through_proxy = {"mysql_port": proxy.port, "mysql_ssl_ca": None}
        with pytest.raises(DatabaseTlsError, match="MYSQL_SSL_MODE=required.*offers no TLS"):
            cipher(tls_server.settings(mysql_ssl_mode="required", **through_proxy))
        # The proxy does strip it: a client that allows plaintext gets plaintext through it.
        assert cipher(tls_server.settings(mysql_ssl_mode="disabled", **through_proxy)) == ""
    finally:
        proxy.close()
    # Straight to the server, required is TLS, even on the loopback.
    assert cipher(tls_server.settings(mysql_ssl_mode="required", mysql_ssl_ca=None)) != ""


def test_tls_stripped_after_start_is_a_database_outage_to_every_caller(tls_server: TlsServer) -> None:
    """An attacker who starts stripping TLS after the services started: each new connection is
    refused, and the refusal reaches callers as MySQL being unavailable (pymysql's
    OperationalError: the receiver's 503 "the database is unavailable", its ingest failing the
    batch as a whole), not as an internal error (a 500, and each post of the batch tried alone)."""
    proxy = TlsStrippingProxy(tls_server.port, stripping=False)
    db = Database(tls_server.settings(mysql_ssl_mode="required", mysql_ssl_ca=None, mysql_port=proxy.port))
    try:
        with db.transaction() as cur:  # started: TLS end to end through the proxy
            cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
            assert cur.fetchone()["Value"] != ""
        proxy.start_stripping()
        with pytest.raises(pymysql.err.OperationalError) as refused, db.transaction() as cur:
            cur.execute("SELECT 1")
        assert isinstance(refused.value, DatabaseTlsError)
        assert "MYSQL_SSL_MODE=required" in str(refused.value) and "offers no TLS" in str(refused.value)
    finally:
        db.close()
        proxy.close()


def test_disabled_and_the_loopback_default_stay_plaintext(tls_server: TlsServer) -> None:
    assert cipher(tls_server.settings(mysql_ssl_mode="disabled", mysql_ssl_ca=None)) == ""
    assert cipher(tls_server.settings(mysql_ssl_mode="preferred", mysql_ssl_ca=None)) == ""


def test_migrate_connects_with_the_client_certificate_like_every_connection(tls_server: TlsServer) -> None:
    database = f"tls_{uuid.uuid4().hex[:8]}"
    pki = tls_server.pki
    settings = tls_server.settings(
        mysql_user="x509",
        mysql_database=database,
        mysql_ssl_cert=pki.client_cert,
        mysql_ssl_key=pki.client_key,
    )
    mysql_root(tls_server.socket, f"CREATE DATABASE {database}")
    # The account is refused without the certificate: yoyo's connection must present it too.
    run = subprocess.run(
        kubeface_argv("migrate"), env=tls_server.env(settings), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    tables = mysql_root(tls_server.socket, f"SHOW TABLES FROM {database} LIKE 'images'")
    assert tables.strip() == "images"


@pytest.mark.parametrize(
    "command", ["status", "migrate", "receiver", "frontend", "processor", "cluster", "recognizer"]
)
def test_a_command_or_service_refused_by_verification_stops_in_one_line_naming_the_setting(
    tls_server: TlsServer, command: str
) -> None:
    settings = tls_server.settings(mysql_ssl_ca=tls_server.pki.other_ca)
    ports = {
        name: str(free_port())
        for name in (
            "RECEIVER_PORT",
            "FRONTEND_PORT",
            "PROCESSOR_METRICS_PORT",
            "CLUSTER_METRICS_PORT",
            "RECOGNIZER_PORT",
            "RECOGNIZER_METRICS_PORT",
        )
    }
    # Two recognizer processes: each child reached MySQL only after loading its models, and a
    # child's refusal was a traceback per process.
    env = {**tls_server.env(settings), **ports, "RECEIVER_PROCESSES": "1", "RECOGNIZER_PROCESSES": "2"}
    run = subprocess.run(kubeface_argv(command), env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr[-3000:]
    assert "MYSQL_SSL_MODE=verify_identity" in errors[0] and "MYSQL_SSL_CA" in errors[0]


def test_a_wrong_tls_setting_stops_a_command_in_one_line(tls_server: TlsServer) -> None:
    env = {**tls_server.env(tls_server.settings()), "MYSQL_SSL_CA": str(tls_server.pki.ca) + ".missing"}
    run = subprocess.run(kubeface_argv("status"), env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: invalid settings: MYSQL_SSL_CA={tls_server.pki.ca}.missing cannot be loaded"
        " ([Errno 2] No such file or directory); set it to a readable PEM file"
    ]
