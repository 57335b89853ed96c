-- depends: 0007_gallery_changes
-- Counters of `images` kept in the transaction of every write (kubeface/images/counts.py), so that
-- pages, /metrics and `kubeface status` read a few rows instead of counting millions. Each count
-- is split over 16 stripe rows (an image counts in stripe id % 16), summed when read: concurrent
-- writers rarely wait on one row's lock. 0009 fills them from the existing rows.
-- Re-runnable, like every migration (see 0001).

CREATE TABLE IF NOT EXISTS image_counts (
    status ENUM('QUEUED', 'PROCESSING', 'PROCESSED', 'PENDING', 'FAILED') NOT NULL,
    stripe TINYINT UNSIGNED NOT NULL,
    n      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (status, stripe)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Images whose person_id is the person; an erased person's rows go with it.
CREATE TABLE IF NOT EXISTS person_image_counts (
    person_id BIGINT UNSIGNED NOT NULL,
    stripe    TINYINT UNSIGNED NOT NULL,
    n         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (person_id, stripe),
    CONSTRAINT fk_person_image_counts_person FOREIGN KEY (person_id) REFERENCES person (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The retry pass finds FAILED rows below the attempt limit by this range; rows that used up their
-- attempts stay FAILED for good, and the pass used to read every one of them, each minute.
ALTER TABLE images ADD KEY IF NOT EXISTS ix_images_status_attempts (status, attempts, finished_at);

-- The search box (frontend/queries.py): words of paths found by a full-text index instead of
-- LIKE '%…%' over every row. InnoDB counts "_" as a letter, so img_4242.jpg would be one word and
-- "4242" would find nothing: the index is on the path with "_" as a space. No stopwords: "the" or
-- "com" in a path is a word to look for. Adding the column rebuilds the table (minutes at 10M rows).
SET SESSION innodb_ft_enable_stopword = OFF;

ALTER TABLE images
    ADD COLUMN IF NOT EXISTS path_words VARCHAR(1024) AS (REPLACE(path, '_', ' ')) PERSISTENT;

ALTER TABLE images ADD FULLTEXT KEY IF NOT EXISTS ft_images_path_words (path_words);
