-- The known people, the images posted for recognition, and every face found in them.
-- Every statement here may run twice: MariaDB commits each DDL statement at once, so a migration
-- cut short (a killed Job pod, a lost connection) leaves its first tables behind, and the Job's
-- next pod must finish it rather than fail on them (tests/integration/test_migrate_resume.py).

CREATE TABLE IF NOT EXISTS person (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(255) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_person_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A photo of a known person. `encoding` caches the 128-d dlib encoding (float64, little
-- endian) so that no recognizer, restarted or new, computes it again.
CREATE TABLE IF NOT EXISTS person_images (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    person_id  BIGINT UNSIGNED NOT NULL,
    path       VARCHAR(1024) NOT NULL,
    path_hash  BINARY(32) NOT NULL,
    encoding   VARBINARY(1024) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_person_images_person_path (person_id, path_hash),
    CONSTRAINT fk_person_images_person FOREIGN KEY (person_id) REFERENCES person (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per posted path. `path` is relative to IMAGE_ROOT; `path_hash` (SHA-256 of it)
-- makes duplicate posts return the existing row. A claim is a conditional UPDATE that
-- sets status PROCESSING and a fresh claim_token; only the token's holder may finish it.
CREATE TABLE IF NOT EXISTS images (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    path        VARCHAR(1024) NOT NULL,
    path_hash   BINARY(32) NOT NULL,
    status      ENUM('QUEUED', 'PROCESSING', 'PROCESSED', 'PENDING', 'FAILED') NOT NULL DEFAULT 'QUEUED',
    person_id   BIGINT UNSIGNED NULL,
    detail      VARCHAR(1024) NULL,
    attempts    INT UNSIGNED NOT NULL DEFAULT 0,
    claim_token CHAR(32) NULL,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    queued_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    started_at  DATETIME(6) NULL,
    finished_at DATETIME(6) NULL,
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_images_path_hash (path_hash),
    KEY ix_images_status_id (status, id),
    KEY ix_images_status_queued (status, queued_at),
    KEY ix_images_status_started (status, started_at),
    KEY ix_images_status_finished (status, finished_at),
    KEY ix_images_person (person_id, id),
    CONSTRAINT fk_images_person FOREIGN KEY (person_id) REFERENCES person (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS faces (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    image_id        BIGINT UNSIGNED NOT NULL,
    box_top         INT NOT NULL,
    box_right       INT NOT NULL,
    box_bottom      INT NOT NULL,
    box_left        INT NOT NULL,
    person_id       BIGINT UNSIGNED NULL,
    person_image_id BIGINT UNSIGNED NULL,
    distance        DOUBLE NULL,
    KEY ix_faces_image (image_id),
    KEY ix_faces_person (person_id),
    CONSTRAINT fk_faces_image FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE,
    CONSTRAINT fk_faces_person FOREIGN KEY (person_id) REFERENCES person (id) ON DELETE SET NULL,
    CONSTRAINT fk_faces_person_image FOREIGN KEY (person_image_id) REFERENCES person_images (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
