"""The recognizer contract evolves compatibly: buf lint, and buf breaking against main."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.servers import REPO

PROTOS = REPO / "protos"


def _buf() -> str:
    path = REPO / ".bin" / "buf"
    assert path.exists(), "buf is missing: `make buf` builds it into .bin/"
    return str(path)


def test_buf_lint_passes():
    result = subprocess.run([_buf(), "lint", str(PROTOS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_breaking_change_against_main():
    has_main = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "main"], cwd=REPO, capture_output=True
    )
    if has_main.returncode != 0:
        pytest.skip("no local `main` branch to compare with")
    result = subprocess.run(
        [_buf(), "breaking", "protos", "--against", ".git#branch=main,subdir=protos"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_breaking_catches_a_renumbered_field(tmp_path):
    changed = tmp_path / "protos"
    shutil.copytree(PROTOS, changed)
    proto = changed / "kubeface" / "proto" / "recognizer.proto"
    proto.write_text(proto.read_text().replace("string image_path = 1;", "string image_path = 9;", 1))
    result = subprocess.run(
        [_buf(), "breaking", str(changed), "--against", str(PROTOS)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "image_path" in result.stdout + result.stderr
