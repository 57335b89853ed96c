"""Checks on what the project ships: models that load, stubs in step with the proto."""

from __future__ import annotations

import subprocess
import sys

from tests.servers import REPO


def test_face_models_load_in_a_fresh_interpreter():
    # face_recognition_models quits with status 0 when pkg_resources is missing: a silent death.
    code = (
        "import face_recognition, dlib; print('loaded', len(face_recognition.face_encodings.__doc__ or 'x'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loaded"), f"models did not load: {result.stdout!r} {result.stderr!r}"


def test_committed_grpc_stubs_match_a_fresh_generation(tmp_path):
    subprocess.run(
        [str(REPO / "tools" / "genproto.sh"), str(tmp_path)],
        check=True,
        env={"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin"},
    )
    for name in ("recognizer_pb2.py", "recognizer_pb2.pyi", "recognizer_pb2_grpc.py"):
        fresh = (tmp_path / "kubeface" / "proto" / name).read_text()
        assert fresh == (REPO / "kubeface" / "proto" / name).read_text(), f"{name} is stale: run `make proto`"
