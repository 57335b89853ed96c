"""The gallery as a portable file: known people, their photo paths and cached encodings.

A bundle is one JSON object:

    {"format": "kubeface-gallery", "version": 1, "exported_at": "...",
     "model": {"id", "encoder", "files": {file name: sha256}},      (kubeface/face_model.py)
     "people": [{"name": "...", "photos": [{"path": "...", "encoding": "<base64>"}]}],
     "left_out": [{"name", "path", "reason"}]}

`encoding` is base64 of the stored bytes (kubeface/encodings.py), so an import stores exactly
the bytes that were exported. Import never re-encodes: a bundle from another model is refused,
because its distances to this deployment's faces would mean nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kubeface.audit import AuditAction, record
from kubeface.db import Database
from kubeface.encodings import ENCODING_DIM, encoding_from_bytes
from kubeface.face_model import FaceModel
from kubeface.paths import PathRejected, resolve_image_path
from kubeface.people import EnrolledImage, ImportedPerson, OnConflict, import_people

log = logging.getLogger(__name__)

FORMAT = "kubeface-gallery"
VERSION = 1
MAX_NAME = 255  # person.name


class BundleInvalid(ValueError):
    """The file is not a bundle this version can import; says where and what."""


class ModelMismatch(Exception):
    """The bundle's encodings come from another model than this deployment's."""

    def __init__(self, bundle: FaceModel, here: FaceModel) -> None:
        super().__init__(
            f"the bundle was made with {bundle.describe()}; this deployment runs {here.describe()}."
            " Encodings of different models cannot be compared: enrol the photos here instead"
            " (kubeface enroll --from-dir)"
        )
        self.bundle = bundle
        self.here = here


@dataclass(frozen=True)
class BundlePerson:
    name: str
    photos: list[EnrolledImage]


@dataclass(frozen=True)
class Bundle:
    model: FaceModel
    people: list[BundlePerson]


@dataclass
class ExportReport:
    people: int = 0
    photos: int = 0
    left_out: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportReport:
    people: list[ImportedPerson]
    # Paths with no file under this IMAGE_ROOT: matching still works (the encoding is what
    # matters), but the frontend has no picture to show and nothing could re-encode them.
    missing_files: list[str]


def export_bundle(db: Database, model: FaceModel) -> tuple[dict[str, Any], ExportReport]:
    """The gallery as a bundle; photos without a cached encoding are left out, and listed."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT p.name, pi.path, pi.encoding FROM person p"
            " LEFT JOIN person_images pi ON pi.person_id = p.id ORDER BY p.name, pi.id"
        )
        rows = cur.fetchall()
    report = ExportReport()
    people: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        photos = people.setdefault(row["name"], [])
        if row["path"] is None:
            continue  # a person without photos
        if row["encoding"] is None:
            report.left_out.append(
                {"name": row["name"], "path": row["path"], "reason": "no cached encoding yet"}
            )
            continue
        photos.append({"path": row["path"], "encoding": base64.b64encode(row["encoding"]).decode()})
        report.photos += 1
    report.people = len(people)
    bundle = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "model": model.as_dict(),
        "people": [{"name": name, "photos": photos} for name, photos in people.items()],
        "left_out": report.left_out,
    }
    return bundle, report


def write_bundle(bundle: dict[str, Any], path: Path) -> None:
    """Write atomically: a reader never sees half a bundle."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(bundle, indent=1, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def read_bundle(path: Path, image_root: Path) -> Bundle:
    """Parse and check a bundle file; BundleInvalid saying what is wrong and where."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleInvalid(f"{path} is not a JSON file: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BundleInvalid(f'{path} is not a kubeface gallery bundle (no "format": "{FORMAT}")')
    if raw.get("version") != VERSION:
        raise BundleInvalid(
            f"{path} is bundle version {raw.get('version')!r}; this kubeface reads version {VERSION}"
        )
    try:
        model = FaceModel.from_dict(raw.get("model"))
    except ValueError as exc:
        raise BundleInvalid(f"{path}: {exc}") from exc
    people = raw.get("people")
    if not isinstance(people, list):
        raise BundleInvalid(f"{path}: 'people' must be a list")
    parsed = [_person(entry, n, image_root) for n, entry in enumerate(people, 1)]
    seen: set[str] = set()
    for person in parsed:
        if person.name in seen:
            raise BundleInvalid(f"{path}: the name {person.name!r} appears twice")
        seen.add(person.name)
    return Bundle(model, parsed)


def _person(entry: object, n: int, image_root: Path) -> BundlePerson:
    where = f"person #{n}"
    if not isinstance(entry, dict):
        raise BundleInvalid(f"{where} is not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise BundleInvalid(f"{where}: 'name' must be a non-blank string of at most {MAX_NAME} characters")
    photos = entry.get("photos")
    if not isinstance(photos, list):
        raise BundleInvalid(f"{where} ({name!r}): 'photos' must be a list")
    return BundlePerson(
        name,
        [_photo(photo, f"{where} ({name!r}) photo #{m}", image_root) for m, photo in enumerate(photos, 1)],
    )


def _photo(photo: object, where: str, image_root: Path) -> EnrolledImage:
    if not isinstance(photo, dict) or not isinstance(photo.get("path"), str):
        raise BundleInvalid(f"{where}: needs a 'path' string and an 'encoding'")
    try:
        path = resolve_image_path(image_root, photo["path"]).relative
    except PathRejected as exc:
        raise BundleInvalid(f"{where}: {exc}") from exc
    try:
        blob = base64.b64decode(str(photo.get("encoding")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleInvalid(f"{where}: 'encoding' is not base64: {exc}") from exc
    if len(blob) != ENCODING_DIM * 8:
        raise BundleInvalid(f"{where}: the encoding has {len(blob)} bytes, not {ENCODING_DIM * 8}")
    encoding = encoding_from_bytes(blob)
    if not all(math.isfinite(v) for v in encoding):
        raise BundleInvalid(f"{where}: the encoding holds a value that is not a finite number")
    return EnrolledImage(path, np.asarray(encoding))


def import_bundle(
    db: Database,
    bundle: Bundle,
    *,
    here: FaceModel,
    on_conflict: OnConflict,
    actor: str,
    source: str,
    image_root: Path,
) -> ImportReport:
    """Enrol the bundle's people with its encodings, all or nothing, each written person recorded
    in the audit log in the same transaction. ModelMismatch for another model's bundle; NamesTaken
    (kubeface/people.py) for a taken name under OnConflict.FAIL."""
    if bundle.model != here:
        raise ModelMismatch(bundle.model, here)
    with db.transaction() as cur:
        imported = import_people(cur, [(p.name, p.photos) for p in bundle.people], on_conflict)
        for person in imported:
            if person.person_id is None:
                continue
            record(
                cur,
                actor=actor,
                action=AuditAction.IMPORT,
                target=f"person:{person.person_id}",
                details={
                    "name": person.name,
                    "outcome": person.outcome,
                    "photos": len(person.person_image_ids),
                    "bundle": source,
                    "model": here.id,
                },
            )
    missing = [
        photo.path
        for person in bundle.people
        for photo in person.photos
        if not (image_root / photo.path).is_file()
    ]
    log.info(
        "gallery imported",
        extra={"actor": actor, "bundle": source, "people": len(imported), "missing_files": len(missing)},
    )
    return ImportReport(imported, missing)
