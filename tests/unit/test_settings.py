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


def test_the_processor_lease_is_its_own_setting(monkeypatch):
    monkeypatch.setenv("RETRY_LEASE_SECONDS", "900")
    settings = Settings(_env_file=None)
    assert (settings.processor_lease_seconds, settings.retry_lease_seconds) == (300.0, 900.0)
    monkeypatch.setenv("PROCESSOR_LEASE_SECONDS", "120")
    assert Settings(_env_file=None).processor_lease_seconds == 120.0


def test_the_nsq_message_timeout_covers_the_recognizer_deadline(monkeypatch):
    assert Settings(_env_file=None).nsq_msg_timeout_seconds == 60.0
    monkeypatch.setenv("RECOGNIZER_TIMEOUT_SECONDS", "45")
    assert Settings(_env_file=None).nsq_msg_timeout_seconds == 75.0


def test_the_gallery_catch_up_waits_one_refresh(monkeypatch):
    monkeypatch.setenv("GALLERY_REFRESH_SECONDS", "7")
    assert Settings(_env_file=None).gallery_catch_up_seconds == 7.0


def test_production_refuses_a_retry_lease_shorter_than_the_processors(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("MYSQL_PASSWORD", "a-real-secret")
    monkeypatch.setenv("RETRY_LEASE_SECONDS", "100")
    with pytest.raises(ValidationError, match="RETRY_LEASE_SECONDS .* re-queue rows live processors"):
        Settings(_env_file=None)
    monkeypatch.setenv("PROCESSOR_LEASE_SECONDS", "100")
    assert Settings(_env_file=None).retry_lease_seconds == 100.0


def test_production_refuses_a_processor_lease_within_the_message_timeout(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("MYSQL_PASSWORD", "a-real-secret")
    monkeypatch.setenv("PROCESSOR_LEASE_SECONDS", "60")
    with pytest.raises(ValidationError, match="PROCESSOR_LEASE_SECONDS .* must exceed"):
        Settings(_env_file=None)


def test_tests_may_shorten_the_retry_lease_in_development(monkeypatch):
    monkeypatch.setenv("RETRY_LEASE_SECONDS", "0.5")
    assert Settings(_env_file=None).retry_lease_seconds == 0.5


def test_an_upload_cap_above_what_the_recognizer_reads_is_refused_naming_both():
    with pytest.raises(ValueError, match="UPLOAD_MAX_BYTES .* IMAGE_MAX_BYTES"):
        Settings(_env_file=None, upload_max_bytes=10_000_000, image_max_bytes=5_000_000)
    assert Settings(_env_file=None, upload_max_bytes=5_000_000, image_max_bytes=5_000_000).upload_max_bytes
