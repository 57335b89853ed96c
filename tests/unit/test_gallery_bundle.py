"""Reading a gallery bundle: what is refused, and the model check's message."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from kubeface.encodings import encoding_to_bytes
from kubeface.face_model import FaceModel, installed_model
from kubeface.gallery_bundle import BundleInvalid, ModelMismatch, import_bundle, read_bundle
from kubeface.people import OnConflict


def _bundle(tmp_path, model: FaceModel, photos: list[dict], name: str = "ann"):
    path = tmp_path / "gallery.json"
    bundle = {
        "format": "kubeface-gallery",
        "version": 1,
        "model": model.as_dict(),
        "people": [{"name": name, "photos": photos}],
    }
    path.write_text(json.dumps(bundle))
    return path


def _photo(path: str = "ann/1.jpg", encoding: np.ndarray | None = None) -> dict:
    value = np.linspace(-0.2, 0.2, 128) if encoding is None else encoding
    return {"path": path, "encoding": base64.b64encode(encoding_to_bytes(value)).decode()}


def test_the_installed_model_is_named_by_its_files():
    model = installed_model()
    assert set(model.files) == {
        "dlib_face_recognition_resnet_model_v1.dat",
        "shape_predictor_5_face_landmarks.dat",
    }
    assert model == FaceModel.from_dict(json.loads(json.dumps(model.as_dict())))


def test_a_bundle_of_another_model_is_refused_naming_both(tmp_path):
    here = installed_model()
    other = FaceModel({**here.files, "dlib_face_recognition_resnet_model_v1.dat": "0" * 64})
    bundle = read_bundle(_bundle(tmp_path, other, [_photo()]), tmp_path)
    with pytest.raises(ModelMismatch) as refused:
        # Refused before the database is touched: there is none here.
        import_bundle(
            None,
            bundle,
            here=here,
            on_conflict=OnConflict.FAIL,
            actor="cli:t",
            source="g",
            image_root=tmp_path,
        )  # type: ignore[arg-type]
    message = str(refused.value)
    assert f"made with model {other.id}" in message and f"this deployment runs model {here.id}" in message


@pytest.mark.parametrize(
    ("photo", "says"),
    [
        (_photo(path="../outside.jpg"), "outside the image root"),
        (_photo(encoding=np.zeros(64)), "512 bytes, not 1024"),
        (_photo(encoding=np.full(128, np.nan)), "not a finite number"),
        ({"path": "a.jpg", "encoding": "%%%"}, "not base64"),
    ],
)
def test_a_bad_photo_is_refused_saying_which_and_why(tmp_path, photo, says):
    with pytest.raises(BundleInvalid, match=says) as refused:
        read_bundle(_bundle(tmp_path, installed_model(), [photo]), tmp_path)
    assert "person #1 ('ann') photo #1" in str(refused.value)


def test_a_file_that_is_no_bundle_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"people": []}')
    with pytest.raises(BundleInvalid, match="not a kubeface gallery bundle"):
        read_bundle(path, tmp_path)
