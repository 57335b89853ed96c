-- depends: 0003_person_images_encoded
-- One identity per photo, the margin of each face, and how long each step took per image.
-- Re-runnable, like every migration (see 0001).
-- No foreign keys on the new person ids: they only label a face, and a removed person reads as
-- a missing name (LEFT JOIN) rather than cascading into faces.

ALTER TABLE faces
    ADD COLUMN IF NOT EXISTS nearest_person_id   BIGINT UNSIGNED NULL,
    ADD COLUMN IF NOT EXISTS nearest_distance    DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS runner_up_person_id BIGINT UNSIGNED NULL,
    -- The distance to the nearest person other than the one named (or nearest, when unknown).
    ADD COLUMN IF NOT EXISTS margin              DOUBLE NULL;

ALTER TABLE images
    ADD COLUMN IF NOT EXISTS decode_ms DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS detect_ms DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS encode_ms DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS match_ms  DOUBLE NULL;
