"""Fixtures the unit tests share."""

from __future__ import annotations

import numpy as np
import pytest

from tests.photos import lopsided_photo


@pytest.fixture(scope="session")
def upright() -> np.ndarray:
    """A real photo, upright: what every reader must return for any stored orientation."""
    return lopsided_photo()
