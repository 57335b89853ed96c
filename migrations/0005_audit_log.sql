-- depends: 0004_identity_margin_timings
-- Who changed what: one row per write by an operator, a client token or the retry job, inserted
-- in the same transaction as the write it describes (kubeface/audit.py), so the log and the data
-- never disagree. Re-runnable, like every migration (see 0001).

CREATE TABLE IF NOT EXISTS audit_log (
    id      BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    actor   VARCHAR(255) NOT NULL,
    action  VARCHAR(64) NOT NULL,
    target  VARCHAR(255) NOT NULL,
    details LONGTEXT NOT NULL CHECK (JSON_VALID(details)),
    KEY ix_audit_at (at),
    KEY ix_audit_actor (actor, id),
    KEY ix_audit_action (action, id),
    KEY ix_audit_target (target, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
