"""Where `Settings()` finds its values: keyword arguments, the environment, `.env`, defaults.

The same behaviour pydantic-settings gave, which `Settings` no longer imports (issue 15).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kubeface.settings import Settings

USED = (
    "RECEIVER_PORT",
    "FRONTEND_PORT",
    "MYSQL_PORT",
    "MYSQL_PASSWORD",
    "NSQLOOKUPD_HTTP_ADDRESSES",
    "LOG_LEVEL",
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory and none of the variables these tests set."""
    for name in USED:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_dotenv_in_the_working_directory_is_read(workdir):
    (workdir / ".env").write_text(
        "# a comment\nMYSQL_PORT=3307\nNSQLOOKUPD_HTTP_ADDRESSES=a:4161, b:4161\n"
        "MYSQL_PASSWORD='s3cret-from-file'\n"
    )
    settings = Settings()
    assert settings.mysql_port == 3307
    assert settings.nsqlookupd_http_addresses == ["a:4161", "b:4161"]
    assert settings.mysql_password.get_secret_value() == "s3cret-from-file"
    assert "s3cret-from-file" not in repr(settings)


def test_no_dotenv_means_the_defaults(workdir):
    assert Settings().receiver_port == 8000


def test_env_file_none_reads_no_file(workdir):
    (workdir / ".env").write_text("RECEIVER_PORT=9000\n")
    assert Settings(_env_file=None).receiver_port == 8000


def test_an_explicit_env_file_is_read(workdir, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "kubeface.env"
    other.write_text("RECEIVER_PORT=9010\n")
    assert Settings(_env_file=other).receiver_port == 9010


def test_the_environment_beats_dotenv(workdir, monkeypatch):
    (workdir / ".env").write_text("RECEIVER_PORT=9000\nFRONTEND_PORT=9100\n")
    monkeypatch.setenv("RECEIVER_PORT", "9001")
    settings = Settings()
    assert (settings.receiver_port, settings.frontend_port) == (9001, 9100)


def test_keyword_arguments_beat_the_environment_and_dotenv(workdir, monkeypatch):
    (workdir / ".env").write_text("RECEIVER_PORT=9000\nFRONTEND_PORT=9100\n")
    monkeypatch.setenv("RECEIVER_PORT", "9001")
    settings = Settings(receiver_port=9002, frontend_port=9102)
    assert (settings.receiver_port, settings.frontend_port) == (9002, 9102)


def test_variable_names_are_case_insensitive(workdir, monkeypatch):
    (workdir / ".env").write_text("Frontend_Port=9104\n")
    monkeypatch.setenv("receiver_port", "9003")
    settings = Settings()
    assert (settings.receiver_port, settings.frontend_port) == (9003, 9104)


def test_unknown_variables_and_valueless_lines_are_ignored(workdir, monkeypatch):
    (workdir / ".env").write_text("NOT_A_KUBEFACE_SETTING=1\nLOG_LEVEL\n")
    monkeypatch.setenv("ANOTHER_UNKNOWN_VARIABLE", "x")
    settings = Settings()
    assert settings.log_level == "INFO"
    assert not hasattr(settings, "not_a_kubeface_setting")


@pytest.mark.parametrize("where", ["environment", "dotenv"])
def test_a_bad_value_names_its_variable(workdir, monkeypatch, where):
    if where == "environment":
        monkeypatch.setenv("MYSQL_PORT", "three-thousand")
    else:
        (workdir / ".env").write_text("MYSQL_PORT=three-thousand\n")
    with pytest.raises(ValidationError, match=r"mysql_port\n.*valid integer.*three-thousand"):
        Settings()
