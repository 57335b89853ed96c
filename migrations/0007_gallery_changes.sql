-- depends: 0005_audit_log
-- (At merge: depend on 0006, the clusters migration, instead.)
-- Renames, merges and erasures change known faces without adding a person_images row; each bumps
-- `changes`, and a recognizer that sees it move reloads its whole gallery (recognizer/gallery.py),
-- so no replica keeps matching an erased encoding or answering an old name.
-- Re-runnable, like every migration (see 0001).

ALTER TABLE gallery_writes
    ADD COLUMN IF NOT EXISTS changes BIGINT UNSIGNED NOT NULL DEFAULT 0;
