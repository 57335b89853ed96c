"""Which face model made an encoding: two encodings compare only if the same model made both.

"The model" is the two files that place a face in the 128-d space, hashed: dlib's ResNet
encoder and the 5-point landmark predictor that aligns the face chip before it (both from
face_recognition_models), plus how the recognizer calls them (5-point landmarks, no jitter,
recognizer/faces.py). Not the dlib build: dlib-bin and an OpenBLAS build of the same files give
the same encodings to about 1e-6. Not the detector either: HOG or CNN only moves the box a
little, like a different photo would; the space stays the same.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path

# How recognizer/faces.py uses the files; a change there that moves encodings changes this.
ENCODER_USE = "dlib face_recognition_model_v1, 5-point landmarks, num_jitters=1"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FaceModel:
    """The identity of the model: file name -> SHA-256, and how the files are used."""

    files: dict[str, str]
    encoder: str = ENCODER_USE

    @property
    def id(self) -> str:
        """A short name for messages: the first 12 hex digits of a hash over everything."""
        digest = hashlib.sha256(self.encoder.encode())
        for name in sorted(self.files):
            digest.update(f"\0{name}\0{self.files[name]}".encode())
        return digest.hexdigest()[:12]

    def describe(self) -> str:
        files = ", ".join(f"{name} sha256 {sha[:12]}…" for name, sha in sorted(self.files.items()))
        return f"model {self.id} ({self.encoder}; {files})"

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "encoder": self.encoder, "files": dict(sorted(self.files.items()))}

    @classmethod
    def from_dict(cls, value: object) -> FaceModel:
        """The model a bundle names; ValueError saying what is missing."""
        if not isinstance(value, dict) or not isinstance(value.get("files"), dict):
            raise ValueError("the bundle names no model (a 'model' object with 'files')")
        files = value["files"]
        if not files or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise ValueError("the bundle's model 'files' must map file names to SHA-256 digests")
        encoder = value.get("encoder")
        if not isinstance(encoder, str):
            raise ValueError("the bundle's model has no 'encoder'")
        return cls(files=dict(files), encoder=encoder)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def installed_model() -> FaceModel:
    """The model this installation encodes with: the files face_recognition loads."""
    # Imported here: face_recognition_models imports pkg_resources (slow, warns).
    models = importlib.import_module("face_recognition_models")
    paths = [
        Path(models.face_recognition_model_location()),
        Path(models.pose_predictor_five_point_model_location()),
    ]
    return FaceModel(files={path.name: _sha256(path) for path in paths})
