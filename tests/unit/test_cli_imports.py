"""`kubeface --help` and each command import only what they need (issue 15: the CLI spent half a
second importing every command's modules before doing anything)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from kubeface.cli import COMMANDS, build_parser, register_parser

HEAVY = ("grpc", "dlib", "numpy", "fastapi", "pymysql", "httpx", "face_recognition")


def _imported_by(*args: str) -> set[str]:
    """The top-level packages `python -m kubeface ARGS` imports (from -X importtime's report)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kubeface", *args], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    names = (
        line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")
    )
    return {name.split(".")[0] for name in names}


def test_help_lists_every_command_without_importing_them():
    imported = _imported_by("--help")
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


# What neither `kubeface status` nor a dry retry pass use, and their start paid for (issue 15):
# httpx (with rich and click), grpc (through the image size limits in settings), tenacity (which
# imports tornado), yoyo (for the ids of the shipped migrations), pydantic_settings (which imports
# every settings source it has: cloud vaults, CLI, TOML, YAML...).
NOT_FOR_READS = {"httpx", "rich", "click", "grpc", "tenacity", "tornado", "yoyo", "pydantic_settings"}


def _imported_by_code(code: str) -> set[str]:
    """The top-level packages importing kubeface's modules in `code` imports, in a fresh process."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    names = (
        line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")
    )
    return {name.split(".")[0] for name in names}


def test_status_imports_no_http_client_grpc_or_retry_library():
    """Everything `kubeface status` runs: its command, settings, the database, the snapshot."""
    imported = _imported_by_code(
        "import kubeface.cli, kubeface.cli.status, kubeface.system, kubeface.db, kubeface.startup"
    )
    assert not imported & NOT_FOR_READS, sorted(imported & NOT_FOR_READS)


def test_a_dry_retry_pass_imports_no_http_client_grpc_or_retry_library():
    imported = _imported_by_code("import kubeface.cli, kubeface.cli.jobs, kubeface.retry, kubeface.db")
    assert not imported & NOT_FOR_READS, sorted(imported & NOT_FOR_READS)


def test_a_command_imports_its_own_module_only():
    imported = _imported_by("migrate", "--help")
    assert not imported & {"dlib", "numpy", "fastapi", "face_recognition", "faiss", "PIL", "grpc", "httpx"}


@pytest.mark.parametrize("register", sorted({c.register for c in COMMANDS.values()}))
def test_the_light_table_says_what_each_command_module_says(register):
    """The help `kubeface --help` shows is the help of the command's own parser."""
    sub = argparse.ArgumentParser().add_subparsers()
    register_parser(sub, register)
    registered = {action.dest: action.help for action in sub._choices_actions}
    assert registered == {name: c.help for name, c in COMMANDS.items() if c.register == register}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_keeps_its_own_options(name, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser([name, "--help"]).parse_args([name, "--help"])
    assert done.value.code == 0
    assert f"usage: kubeface {name}" in capsys.readouterr().out
