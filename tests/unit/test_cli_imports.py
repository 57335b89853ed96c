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


def test_a_command_imports_its_own_module_only():
    # (grpc still comes with kubeface.settings, through image_files' limits: not this module's.)
    imported = _imported_by("migrate", "--help")
    assert not imported & {"dlib", "numpy", "fastapi", "face_recognition", "faiss", "PIL"}


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
