-- depends: 0002_gallery_writes
-- Whether a known photo's encoding is cached, as a column of its own: the frontend shows it, and
-- its account may read this column but not `encoding` (biometric data that no page shows).
-- A virtual column is computed on read: no rewrite of the table, nothing to keep in step.
-- Re-runnable, like every migration (see 0001).

ALTER TABLE person_images
    ADD COLUMN IF NOT EXISTS encoded BOOLEAN GENERATED ALWAYS AS (encoding IS NOT NULL) VIRTUAL AFTER encoding;
