from __future__ import annotations

import pytest
from pydantic import ValidationError

from kubeface.settings import Settings


def test_defaults_are_the_original_designs_ports(monkeypatch):
    settings = Settings(_env_file=None)
    assert (settings.receiver_port, settings.frontend_port, settings.recognizer_port) == (8000, 8081, 50051)
    assert settings.nsqd_http_address.endswith(":4151") and settings.match_tolerance == 0.6


def test_lookupd_addresses_are_comma_separated(monkeypatch):
    monkeypatch.setenv("NSQLOOKUPD_HTTP_ADDRESSES", "a:4161, b:4161")
    assert Settings(_env_file=None).nsqlookupd_http_addresses == ["a:4161", "b:4161"]


def test_production_refuses_the_placeholder_password(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="MYSQL_PASSWORD"):
        Settings(_env_file=None)
    monkeypatch.setenv("MYSQL_PASSWORD", "a-real-secret")
    assert Settings(_env_file=None).mysql_password.get_secret_value() == "a-real-secret"


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("MYSQL_PASSWORD", "hunter2-secret")
    assert "hunter2-secret" not in repr(Settings(_env_file=None))


def test_batch_wait_is_auto_or_milliseconds(monkeypatch):
    monkeypatch.setenv("RECOGNIZER_BATCH_WAIT_MS", "auto")
    assert Settings(_env_file=None).recognizer_batch_wait_ms is None
    monkeypatch.setenv("RECOGNIZER_BATCH_WAIT_MS", "2.5")
    assert Settings(_env_file=None).recognizer_batch_wait_ms == 2.5
    monkeypatch.setenv("RECOGNIZER_BATCH_WAIT_MS", "soon")
    with pytest.raises(ValidationError, match="recognizer_batch_wait_ms"):
        Settings(_env_file=None)
