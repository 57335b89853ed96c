from __future__ import annotations

import pytest

from recognizer.faces import PYRAMID_STEP, Box, detection_scale, map_box


def test_small_images_are_detected_on_a_level_of_the_upsampled_pyramid():
    # Plain face_recognition (upsample 1) scans 2, 2*(5/6), 2*(5/6)**2, ...; 0.965 is the first <= 1.
    assert detection_scale(400, 600, 1024, upsample=1) == pytest.approx(2 * PYRAMID_STEP**4)
    assert detection_scale(400, 600, 1024, upsample=0) == 1.0


def test_large_images_are_scaled_to_fit_the_limit_on_a_pyramid_level():
    scale = detection_scale(2333, 1434, 1024, upsample=1)
    assert 2333 * scale <= 1024 < 2333 * scale / PYRAMID_STEP
    level = 0
    while 2 * PYRAMID_STEP**level > scale + 1e-12:
        level += 1
    assert scale == pytest.approx(2 * PYRAMID_STEP**level)


def test_no_limit_keeps_full_size_levels():
    assert detection_scale(5000, 5000, 0, upsample=0) == 1.0


def test_boxes_found_on_a_smaller_copy_map_back_to_full_size():
    assert map_box((10, 60, 50, 20), 0.5, 200, 200) == Box(top=20, right=120, bottom=100, left=40)


def test_mapped_boxes_are_clipped_to_the_image():
    # dlib may report a box reaching past the edge of the copy it searched.
    assert map_box((-3, 101, 51, -2), 0.5, 100, 200) == Box(top=0, right=200, bottom=100, left=0)
