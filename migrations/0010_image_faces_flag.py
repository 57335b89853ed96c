"""Whether an image has faces, on its row, so that the retry pass after an enrolment walks only
PENDING rows with faces; and an index for the latest enrolment.

The pass walked ix_images_status_finished over every PENDING row finished before the latest
enrolment, looking each one's faces up: rows with no face (landscapes, backs of heads, blank
scans; often a third of a library) never leave that range, so after any enrolment every pass,
each minute, read all of them again before finding its batch. `has_faces` is written with the
outcome (kubeface/images/transitions.py complete_image); ix_images_status_faces_finished puts the
rows with faces in a range of their own. `SELECT MAX(created_at) FROM person_images` read the
whole gallery; with ix_person_images_created it reads one index entry.

Cost on a 10M-row `images` (MariaDB 10.11):
- ADD COLUMN rebuilds the table, and writers WAIT while it runs: the FULLTEXT index of 0008 rules
  out both an instant column (ALGORITHM=INSTANT: error 1845) and an online rebuild (LOCK=NONE:
  1846, "Fulltext index creation requires a lock"). LOCK=SHARED: reads go on, every INSERT and
  UPDATE of `images` (ingest, outcomes) waits for the rebuild, the size of the table in I/O and
  the full-text index rebuilt: minutes at 10M rows (not measured here: time it on a copy).
  Plan it for a quiet hour.
- ADD INDEX ... ALGORITHM=INPLACE, LOCK=NONE: one sort of (status, has_faces, finished_at),
  about a minute at 10M rows; writers are not blocked.
- The backfill (kubeface/images/face_flags.py fill_face_flags): every finished row, 5,000 ids
  per transaction, one index probe into `faces` each; a few minutes at 10M rows, each transaction
  locking its 5,000 rows for tens of milliseconds. Rows without an outcome stay NULL: their
  outcome writes the flag, or the retry pass fills it (an older processor's outcome).
Re-runnable, like every migration: IF NOT EXISTS on each change, and the backfill fills only NULLs.
"""

from yoyo import step

from kubeface.images.face_flags import fill_face_flags

__depends__ = {"0009_image_counts_backfill"}

steps = [
    step(
        "ALTER TABLE images ADD COLUMN IF NOT EXISTS has_faces BOOLEAN NULL DEFAULT NULL,"
        " ALGORITHM=INPLACE, LOCK=SHARED"
    ),
    step(
        "ALTER TABLE images ADD KEY IF NOT EXISTS ix_images_status_faces_finished"
        " (status, has_faces, finished_at), ALGORITHM=INPLACE, LOCK=NONE"
    ),
    step(
        "ALTER TABLE person_images ADD KEY IF NOT EXISTS ix_person_images_created (created_at),"
        " ALGORITHM=INPLACE, LOCK=NONE"
    ),
    step(fill_face_flags),
]
