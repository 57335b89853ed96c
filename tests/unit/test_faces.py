from __future__ import annotations

import grpc
import pytest

from kubeface.recognition_errors import ImageUnusable, error_for, status_code_for
from recognizer.faces import MIN_FACE_SIDE, PYRAMID_STEP, BadFaceBox, Box, detection_scale, map_box


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


@pytest.mark.parametrize(
    "box",
    [
        Box(top=0, right=101, bottom=50, left=0),  # past the right edge
        Box(top=-1, right=50, bottom=50, left=0),  # above the top
        Box(top=10, right=60, bottom=10, left=10),  # no height
        Box(top=10, right=10, bottom=60, left=40),  # right of its right edge
    ],
)
def test_a_face_box_outside_the_picture_is_refused_saying_so(box):
    with pytest.raises(BadFaceBox, match="not inside the 100x80 upright picture"):
        box.check_fits(80, 100)


def test_a_face_box_too_small_for_a_face_is_refused_saying_the_minimum():
    with pytest.raises(BadFaceBox, match=f"at least {MIN_FACE_SIDE} px"):
        Box(top=0, right=MIN_FACE_SIDE - 1, bottom=50, left=0).check_fits(80, 100)
    Box(top=0, right=MIN_FACE_SIDE, bottom=80, left=0).check_fits(80, 100)  # the whole height: fine


def test_a_refused_box_is_answered_invalid_argument_and_read_back_as_an_unusable_image():
    assert status_code_for(BadFaceBox) == grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(error_for(grpc.StatusCode.INVALID_ARGUMENT, "box"), ImageUnusable)


def test_overlap_is_one_for_the_same_box_and_zero_for_boxes_apart():
    box = Box(top=0, right=10, bottom=10, left=0)
    assert box.overlap(box) == 1.0
    assert box.overlap(Box(top=20, right=30, bottom=30, left=20)) == 0.0
    assert box.overlap(Box(top=0, right=20, bottom=10, left=0)) == pytest.approx(0.5)
