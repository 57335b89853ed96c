"""Opening image files: only regular files beneath the root, never blocking, never past the cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeface.image_files import ImageFileMissing, ImageFileRefused, ImageFiles
from kubeface.paths import resolve_image_path
from tests.photos import make_socket

pytestmark = pytest.mark.timeout(30)  # a FIFO must not block the test: fail, don't hang


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "sub" / "ok.jpg").write_bytes(b"\xff\xd8 picture bytes")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.jpg").write_bytes(b"secret")
    return tmp_path / "root"


def _read(root: Path, raw: str, max_bytes: int = 1 << 20) -> bytes:
    with ImageFiles(root, max_bytes).open(resolve_image_path(root, raw)) as stream:
        return stream.read()


def test_a_regular_file_is_read(root):
    assert _read(root, "sub/ok.jpg") == b"\xff\xd8 picture bytes"


def test_a_missing_file_is_missing(root):
    with pytest.raises(ImageFileMissing, match="no file at 'sub/none.jpg'"):
        _read(root, "sub/none.jpg")


def test_a_fifo_is_refused_at_once_without_a_writer(root):
    os.mkfifo(root / "fifo.jpg")
    with pytest.raises(ImageFileRefused, match="'fifo.jpg' is a FIFO, not a regular file"):
        _read(root, "fifo.jpg")


def test_a_socket_is_refused(root):
    make_socket(root / "socket.jpg")
    with pytest.raises(ImageFileRefused, match="is a socket, not a regular file"):
        _read(root, "socket.jpg")


def test_a_directory_is_refused(root):
    with pytest.raises(ImageFileRefused, match="'sub' is a directory, not a regular file"):
        _read(root, "sub")


def test_a_loop_of_links_is_refused(root):
    (root / "loop.jpg").symlink_to("loop.jpg")
    with pytest.raises(ImageFileRefused, match="symbolic link"):
        _read(root, "loop.jpg")


def test_a_link_to_a_device_swapped_in_after_the_check_is_refused_not_read(root):
    checked = resolve_image_path(root, "sub/ok.jpg")
    (root / "sub" / "ok.jpg").unlink()
    (root / "sub" / "ok.jpg").symlink_to("/dev/zero")  # a read would never end
    with pytest.raises(ImageFileRefused, match="symbolic link"):
        with ImageFiles(root).open(checked) as stream:
            stream.read()


def test_a_folder_swapped_for_a_link_out_of_the_root_is_refused(root):
    checked = resolve_image_path(root, "sub/ok.jpg")
    (root / "sub").rename(root / "moved")
    (root / "sub").symlink_to(root.parent / "outside")
    (root.parent / "outside" / "ok.jpg").write_bytes(b"secret")
    with pytest.raises(ImageFileRefused, match="symbolic link"):
        with ImageFiles(root).open(checked) as stream:
            stream.read()


def test_links_inside_the_root_still_work(root):
    (root / "alias.jpg").symlink_to(root / "sub" / "ok.jpg")
    (root / "alias_dir").symlink_to(root / "sub")
    assert _read(root, "alias.jpg") == _read(root, "alias_dir/ok.jpg") == _read(root, "sub/ok.jpg")


def test_a_file_over_the_cap_is_refused_unread(root):
    with open(root / "big.jpg", "wb") as big:
        big.truncate(10_000)  # sparse: nothing to read, only its size matters
    with pytest.raises(ImageFileRefused, match="10000 bytes, over the 4096-byte limit"):
        _read(root, "big.jpg", max_bytes=4096)


def test_a_file_growing_past_the_cap_while_read_is_refused(root):
    (root / "growing.jpg").write_bytes(b"x" * 1000)
    with ImageFiles(root, 4096).open(resolve_image_path(root, "growing.jpg")) as stream:
        with open(root / "growing.jpg", "ab") as more:
            more.write(b"y" * 10_000)
        with pytest.raises(ImageFileRefused, match="grew past the 4096-byte limit"):
            stream.read()


def test_the_stream_seeks_like_a_file(root):
    with ImageFiles(root).open(resolve_image_path(root, "sub/ok.jpg")) as stream:
        stream.seek(3)
        assert stream.read(7) == b"picture"
        assert stream.tell() == 10


def test_pixel_limit(root):
    files = ImageFiles(root, max_pixels=100)
    files.check_pixels(10, 10)
    with pytest.raises(ImageFileRefused, match="11x10, over the 100-pixel limit"):
        files.check_pixels(11, 10)
    with pytest.raises(ImageFileRefused, match="over the 50-pixel limit"):
        files.check_pixels(10, 10, 50)
