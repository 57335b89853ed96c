"""The upload store: type from magic bytes, name from content, atomic write that leaves no temp file."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from kubeface.uploads import TEMP_PREFIX, UploadRejected, UploadStore, UploadTooLarge, image_type

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (JPEG, "jpg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "png"),
        (b"GIF89a" + b"\x00" * 8, "gif"),
        (b"GIF87a" + b"\x00" * 8, "gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"BM" + b"\x00" * 12, "bmp"),
        (b"II*\x00" + b"\x00" * 8, "tiff"),
        (b"MM\x00*" + b"\x00" * 8, "tiff"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"hello, this is text\n", None),
        (b"BMW drives well, text", None),
        (b"%PDF-1.7\n" + b"\x00" * 8, None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_magic_bytes(head: bytes, kind: str | None) -> None:
    assert image_type(head) == kind


def _stored(store: UploadStore) -> list[str]:
    return sorted(p.name for p in store.directory.iterdir() if p != store.incoming)


def _leftovers(store: UploadStore) -> list[str]:
    return [p.name for p in store.temporary_files()]


def test_a_stored_file_is_named_by_its_sha256_and_holds_the_bytes(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, max_bytes=1 << 20)
    stored = store.store(JPEG)
    digest = hashlib.sha256(JPEG).hexdigest()
    assert stored.relative_path == f"uploads/{digest}.jpg"
    assert (tmp_path / stored.relative_path).read_bytes() == JPEG
    assert store.store(JPEG) == stored  # the same bytes, the same name
    assert _leftovers(store) == []


def test_chunks_are_streamed_into_one_file(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, max_bytes=1 << 20)
    data = JPEG + bytes(range(256)) * 10
    writer = store.writer()
    for i in range(0, len(data), 7):
        writer.write(data[i : i + 7])
    stored = writer.commit()
    writer.discard()
    assert (tmp_path / stored.relative_path).read_bytes() == data
    assert _leftovers(store) == []


def test_text_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, max_bytes=1 << 20)
    with pytest.raises(UploadRejected, match="JPG, PNG, GIF, WEBP, BMP, TIFF"):
        store.store(b"just some text, not a picture at all")
    with pytest.raises(UploadRejected):
        store.store(b"\xff\xd8\xff")  # JPEG's first bytes, but too short to be a picture
    assert _leftovers(store) == [] and _stored(store) == []


def test_past_the_cap_the_write_stops_and_the_temp_file_goes(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, max_bytes=1024)
    writer = store.writer()
    writer.write(JPEG)
    with pytest.raises(UploadTooLarge, match="UPLOAD_MAX_BYTES"):
        writer.write(b"\x00" * 1024)
    writer.discard()
    assert _leftovers(store) == [] and _stored(store) == []


def test_an_abandoned_write_is_discarded(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, max_bytes=1 << 20)
    writer = store.writer()
    writer.write(JPEG[:20])
    assert len(_leftovers(store)) == 1  # mid-upload, only a temporary file exists
    writer.discard()
    assert _leftovers(store) == [] and _stored(store) == []


def test_abandoned_temporary_files_are_removed_but_young_ones_and_stored_files_stay(tmp_path):
    store = UploadStore(tmp_path, 1024 * 1024)
    store.incoming.mkdir(parents=True)
    old = store.incoming / f"{TEMP_PREFIX}crashed"
    young = store.incoming / f"{TEMP_PREFIX}in-flight"
    kept = store.directory / "ab12.jpg"
    for path in (old, young, kept):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(kept, (two_hours_ago, two_hours_ago))
    assert store.remove_abandoned() == [old.name]
    assert _leftovers(store) == [young.name] and _stored(store) == [kept.name]
