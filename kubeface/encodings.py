"""The stored form of a face encoding (`person_images.encoding`): 128 float64, little endian.

The receiver writes it at enrolment and the recognizer reads it back (and writes the ones it had
to compute); both go through here so that the format is spelled once.
"""

from __future__ import annotations

import numpy as np

ENCODING_DIM = 128
_STORED = np.dtype("<f8")


def encoding_to_bytes(encoding: np.ndarray) -> bytes:
    return np.asarray(encoding, dtype=_STORED).tobytes()


def encoding_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_STORED).copy()


def encodings_from_bytes(blobs: list[bytes]) -> np.ndarray:
    """Many stored encodings as one (n, 128) array, without a copy per row."""
    return np.frombuffer(b"".join(blobs), dtype=_STORED).reshape(-1, ENCODING_DIM)
