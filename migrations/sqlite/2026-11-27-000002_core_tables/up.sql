-- Trials, users and tokens, screenings and randomized subjects.
-- Portable types only; ids are TEXT; times are UTC with microsecond precision.

CREATE TABLE trials (
    id              TEXT PRIMARY KEY NOT NULL,
    title           TEXT NOT NULL,
    protocol_json   TEXT NOT NULL,
    protocol_digest TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    seed_commitment TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    cap             BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    closed_at       TIMESTAMP,
    close_reason    TEXT,
    seed_revealed   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE users (
    name       TEXT PRIMARY KEY NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'investigator', 'pharmacist', 'monitor')),
    sites      TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_name  TEXT NOT NULL REFERENCES users (name),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE INDEX tokens_user_name_idx ON tokens (user_name);

CREATE TABLE screenings (
    id             TEXT PRIMARY KEY NOT NULL,
    trial_id       TEXT NOT NULL REFERENCES trials (id),
    patient_ref    TEXT NOT NULL,
    site           TEXT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('eligible', 'ineligible', 'incomplete')),
    input_json     TEXT NOT NULL,
    result_json    TEXT NOT NULL,
    screening_date DATE NOT NULL,
    screened_at    TIMESTAMP NOT NULL,
    screened_by    TEXT NOT NULL,
    audit_seq      BIGINT NOT NULL,
    CONSTRAINT screenings_trial_audit_seq_key UNIQUE (trial_id, audit_seq)
);

CREATE INDEX screenings_trial_patient_idx ON screenings (trial_id, patient_ref);

CREATE TABLE subjects (
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

CREATE INDEX subjects_screening_idx ON subjects (screening_id);
