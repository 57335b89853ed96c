-- depends: 0005_audit_log
-- Unknown faces grouped into clusters of one unknown person (kubeface/clustering.py).
-- Re-runnable, like every migration (see 0001).
-- The encoding of a face that matched nobody lives in its own table, not in `faces`: it is
-- biometric data, and a table of its own lets the frontend's account read every face column and
-- still not this one (kubeface/db_accounts.py). It goes with its face (ON DELETE CASCADE: a
-- re-processed image's old faces take their encodings along).

CREATE TABLE IF NOT EXISTS face_clusters (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- An operator hid it from the "Unknown people" page; new faces still join it.
    ignored    TINYINT(1) NOT NULL DEFAULT 0,
    -- The person an operator enrolled it as (POST /cluster/{id}/enroll); its images are re-queued.
    person_id  BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS face_encodings (
    face_id   BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    encoding  VARBINARY(1024) NOT NULL,
    -- 0 while the clustering worker has not placed the face yet: its work queue.
    clustered TINYINT(1) NOT NULL DEFAULT 0,
    KEY ix_face_encodings_clustered (clustered, face_id),
    CONSTRAINT fk_face_encodings_face FOREIGN KEY (face_id) REFERENCES faces (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE faces
    ADD COLUMN IF NOT EXISTS cluster_id BIGINT UNSIGNED NULL,
    ADD KEY IF NOT EXISTS ix_faces_cluster (cluster_id, id);
