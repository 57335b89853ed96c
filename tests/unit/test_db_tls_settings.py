"""MYSQL_SSL_*: a setting that cannot work, or would only look safe, is refused at start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubeface.db_tls import MysqlSslMode
from kubeface.settings import SettingsError, load_settings


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=unit ca",
         "-keyout", "ca.key", "-out", "ca.pem"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return folder / "ca.pem"


def refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None)
    return str(refused.value)


def test_the_mode_is_read_as_the_mysql_client_writes_it(monkeypatch: pytest.MonkeyPatch, ca: Path) -> None:
    monkeypatch.setenv("MYSQL_SSL_MODE", "VERIFY_IDENTITY")
    monkeypatch.setenv("MYSQL_SSL_CA", str(ca))
    assert load_settings(_env_file=None).mysql_ssl_mode is MysqlSslMode.VERIFY_IDENTITY


def test_the_default_is_preferred_without_a_ca() -> None:
    settings = load_settings(_env_file=None)
    assert (settings.mysql_ssl_mode, settings.mysql_ssl_ca) == (MysqlSslMode.PREFERRED, None)


@pytest.mark.parametrize("mode", ["verify_ca", "verify_identity"])
def test_a_verify_mode_without_a_ca_says_what_to_set(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    message = refusal(monkeypatch, MYSQL_SSL_MODE=mode)
    assert f"MYSQL_SSL_MODE={mode} needs MYSQL_SSL_CA" in message


def test_an_unknown_mode_names_the_setting_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(monkeypatch, MYSQL_SSL_MODE="verify")
    assert message.startswith("invalid settings: MYSQL_SSL_MODE: ")
    assert "'verify_identity'" in message


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_a_ca_file_that_is_missing_or_not_pem_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    message = refusal(monkeypatch, MYSQL_SSL_MODE="verify_ca", MYSQL_SSL_CA=str(path))
    assert f"MYSQL_SSL_CA={path} cannot be loaded" in message
    assert "set it to a readable PEM file" in message


@pytest.mark.parametrize("mode", ["preferred", "required", "disabled"])
def test_a_ca_with_a_mode_that_does_not_verify_is_refused(
    monkeypatch: pytest.MonkeyPatch, ca: Path, mode: str
) -> None:
    # pymysql would take the CA and check nothing against it.
    message = refusal(monkeypatch, MYSQL_SSL_MODE=mode, MYSQL_SSL_CA=str(ca))
    assert f"MYSQL_SSL_MODE={mode} does not check the server against it" in message


def test_a_client_key_without_its_certificate_is_refused(monkeypatch: pytest.MonkeyPatch, ca: Path) -> None:
    message = refusal(monkeypatch, MYSQL_SSL_MODE="required", MYSQL_SSL_KEY=str(ca.with_suffix(".key")))
    assert "MYSQL_SSL_KEY is set without MYSQL_SSL_CERT" in message


def test_a_client_certificate_with_a_mode_that_may_skip_tls_is_refused(
    monkeypatch: pytest.MonkeyPatch, ca: Path
) -> None:
    message = refusal(monkeypatch, MYSQL_SSL_MODE="preferred", MYSQL_SSL_CERT=str(ca))
    assert "may connect without TLS" in message


def test_the_message_holds_no_other_settings_values(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(monkeypatch, MYSQL_SSL_MODE="verify_ca", MYSQL_PASSWORD="s3cret-db-password")
    assert "s3cret-db-password" not in message
