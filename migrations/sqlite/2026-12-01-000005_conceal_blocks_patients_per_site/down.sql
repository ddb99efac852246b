-- Block columns come back empty (0): the values were never kept.
DROP TRIGGER screenings_no_delete;
DROP TRIGGER screenings_no_update;
DROP TRIGGER subjects_only_audited_withdrawal;
DROP TRIGGER subjects_no_delete;

CREATE INDEX screenings_trial_patient_seq_idx ON screenings (trial_id, patient_ref, audit_seq);
DROP INDEX screenings_trial_site_patient_seq_idx;

CREATE TABLE subjects_rebuilt (
    id                  TEXT PRIMARY KEY NOT NULL,
    trial_id            TEXT NOT NULL REFERENCES trials (id),
    sequence            BIGINT NOT NULL,
    screening_id        TEXT NOT NULL REFERENCES screenings (id),
    patient_ref         TEXT NOT NULL,
    site                TEXT NOT NULL,
    stratum_key         TEXT NOT NULL,
    stratum_position    BIGINT NOT NULL,
    block_index         BIGINT NOT NULL,
    block_size          INTEGER NOT NULL,
    arm                 TEXT NOT NULL,
    randomized_at       TIMESTAMP NOT NULL,
    randomized_by       TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('on_study', 'withdrawn')),
    withdrawn_at        TIMESTAMP,
    withdrawn_by        TEXT,
    withdrawal_reason   TEXT,
    audit_seq           BIGINT NOT NULL,
    idempotency_key     TEXT,
    request_fingerprint TEXT,
    CONSTRAINT subjects_trial_sequence_key UNIQUE (trial_id, sequence),
    CONSTRAINT subjects_trial_patient_key UNIQUE (trial_id, patient_ref),
    CONSTRAINT subjects_trial_stratum_position_key UNIQUE (trial_id, stratum_key, stratum_position),
    CONSTRAINT subjects_idempotency_key UNIQUE (randomized_by, idempotency_key)
);

INSERT INTO subjects_rebuilt
SELECT id, trial_id, sequence, screening_id, patient_ref, site, stratum_key, stratum_position,
       0, 0, arm, randomized_at, randomized_by, status, withdrawn_at, withdrawn_by,
       withdrawal_reason, audit_seq, idempotency_key, request_fingerprint
FROM subjects;

DROP TABLE subjects;
ALTER TABLE subjects_rebuilt RENAME TO subjects;
CREATE INDEX subjects_screening_idx ON subjects (screening_id);
