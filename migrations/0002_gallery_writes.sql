-- Enrolments take this row's lock before they insert into person_images, so rows get their ids
-- in commit order: a recognizer that loads `id > last seen` can then never skip a row that
-- committed after a higher id (kubeface/people.py, recognizer/gallery.py).
-- depends: 0001_initial
-- Re-runnable, like every migration (see 0001).

CREATE TABLE IF NOT EXISTS gallery_writes (
    id     TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    writes BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB;

INSERT IGNORE INTO gallery_writes (id) VALUES (1);
