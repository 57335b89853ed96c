"""Previews in bounded memory and time: odd files and huge pictures get the placeholder, the
cache stays within its budget, and concurrent requests for one preview decode it once."""

from __future__ import annotations

import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from frontend.thumbnails import PREVIEWS_DECODED, PixelBudget, PreviewUnavailable, Thumbnailer
from tests.photos import make_socket, write_blank_png

pytestmark = pytest.mark.timeout(60)  # a FIFO must fail the test, not hang it


def decoded() -> float:
    return PREVIEWS_DECODED._value.get()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    Image.new("RGB", (800, 400), "red").save(root / "wide.jpg")
    return root


@pytest.mark.parametrize("kind", ["fifo", "socket", "directory", "loop", "devzero"])
def test_files_that_are_not_images_get_the_placeholder_at_once(root, tmp_path, kind):
    path = root / f"{kind}.jpg"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        make_socket(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)
    else:
        path.symlink_to("/dev/zero")
    thumbs = Thumbnailer(root, tmp_path / "cache")
    with pytest.raises(PreviewUnavailable):
        thumbs.preview(path.name, 96)
    with pytest.raises(PreviewUnavailable):
        thumbs.size(path.name)


def test_a_picture_over_the_pixel_limit_is_refused_from_its_header(root, tmp_path):
    write_blank_png(root / "huge.png", 9000, 9000)  # 81 Mpixel in 250 KB
    thumbs = Thumbnailer(root, tmp_path / "cache")
    before = decoded()
    with pytest.raises(PreviewUnavailable, match="9000x9000, over the 80000000-pixel limit"):
        thumbs.preview("huge.png", 1400)
    assert decoded() == before  # nothing was decoded
    assert thumbs.size("huge.png") == (9000, 9000)  # the page still learns its size


def test_a_png_too_large_to_decode_here_gets_the_placeholder(root, tmp_path):
    write_blank_png(root / "large.png", 3000, 2000)
    thumbs = Thumbnailer(root, tmp_path / "cache", decode_max_pixels=5_000_000)
    with pytest.raises(PreviewUnavailable, match="3000x2000, over the 5000000-pixel limit"):
        thumbs.preview("large.png", 96)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(root, tmp_path):
    Image.new("RGB", (4000, 3000), "green").save(root / "large.jpg", quality=70)
    # 12 Mpixel at full size; DCT scaling decodes it at 1/8: 500x375, under the 1 Mpixel allowed.
    thumbs = Thumbnailer(root, tmp_path / "cache", decode_max_pixels=1_000_000)
    with Image.open(thumbs.preview("large.jpg", 96)) as img:
        assert img.size == (96, 72)


def test_a_file_over_the_byte_cap_gets_the_placeholder(root, tmp_path):
    thumbs = Thumbnailer(root, tmp_path / "cache", max_bytes=1024)
    with pytest.raises(PreviewUnavailable, match="over the 1024-byte limit"):
        thumbs.preview("wide.jpg", 96)


def test_concurrent_requests_for_one_missing_preview_decode_it_once(root, tmp_path):
    write_blank_png(root / "slow.png", 2000, 2000)
    thumbs = Thumbnailer(root, tmp_path / "cache")
    callers = 8
    started = threading.Barrier(callers)

    def request(_):
        started.wait()
        return thumbs.preview("slow.png", 96)

    before = decoded()
    with ThreadPoolExecutor(callers) as pool:
        made = set(pool.map(request, range(callers)))
    assert len(made) == 1 and next(iter(made)).exists()
    assert decoded() == before + 1


def test_a_failed_preview_fails_every_waiter_and_is_tried_again_later(root, tmp_path):
    (root / "bad.jpg").write_bytes(b"not a picture")
    thumbs = Thumbnailer(root, tmp_path / "cache")
    for _ in range(2):
        with pytest.raises(PreviewUnavailable, match="not a readable image"):
            thumbs.preview("bad.jpg", 96)


def test_the_cache_stays_within_its_byte_budget(root, tmp_path):
    budget = 60_000
    rng = random.Random(7)
    for index in range(30):  # noise compresses badly: each preview is a few KB
        Image.frombytes("RGB", (200, 200), rng.randbytes(200 * 200 * 3)).save(root / f"{index}.png")
    thumbs = Thumbnailer(root, tmp_path / "cache", cache_max_bytes=budget)
    for index in range(30):
        latest = thumbs.preview(f"{index}.png", 96)
        on_disk = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
        assert on_disk <= budget
        assert latest.exists()  # the newest is never the one evicted
    assert thumbs.cache.total_bytes == on_disk
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) < 30  # some were evicted
    # A restart finds the files and keeps within the budget with a smaller one.
    again = Thumbnailer(root, tmp_path / "cache", cache_max_bytes=budget // 2)
    assert again.cache.total_bytes <= budget // 2


def test_a_hit_keeps_an_entry_from_eviction(root, tmp_path):
    rng = random.Random(8)
    for index in range(4):
        Image.frombytes("RGB", (200, 200), rng.randbytes(200 * 200 * 3)).save(root / f"{index}.png")
    thumbs = Thumbnailer(root, tmp_path / "cache", cache_max_bytes=10**9)
    made = [thumbs.preview(f"{index}.png", 96) for index in range(3)]
    sizes = [path.stat().st_size for path in made]
    thumbs = Thumbnailer(root, tmp_path / "cache", cache_max_bytes=sum(sizes) + sizes[0] // 2)
    assert thumbs.preview("0.png", 96) == made[0]  # a hit: now the most recently used
    thumbs.preview("3.png", 96)  # over budget: the least recently used (1.png) goes
    assert made[0].exists() and not made[1].exists() and made[2].exists()
    assert thumbs.cache.total_bytes <= sum(sizes) + sizes[0] // 2


def test_the_pixel_budget_holds_decodes_back_until_there_is_room():
    budget = PixelBudget(100)
    inside = threading.Event()
    with budget.hold(70):

        def second():
            with budget.hold(50):
                inside.set()

        waiter = threading.Thread(target=second)
        waiter.start()
        assert not inside.wait(0.2)  # 70 + 50 > 100: it waits
    waiter.join(10)
    assert inside.is_set()
