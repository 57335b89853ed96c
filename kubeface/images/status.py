"""The statuses an image row moves through."""

from __future__ import annotations

from enum import StrEnum


class ImageStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"  # a known person was recognised
    PENDING = "PENDING"  # no known person matched, or no face was found
    FAILED = "FAILED"  # the image could not be processed; detail says why

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


# Final rows: a QUEUED or PROCESSING row is still on its way.
FINAL_STATUSES = (ImageStatus.PROCESSED, ImageStatus.PENDING, ImageStatus.FAILED)
# What an operator may re-queue in bulk.
REQUEUEABLE_STATUSES = (ImageStatus.FAILED, ImageStatus.PENDING)
