-- Concealment and patient identity (issue: nobody can game an allocation).
-- 1. Subjects no longer store block index or size: while the seed is secret no column may hold
--    where blocks begin. Block information after a reveal is computed from the revealed seed.
-- 2. A patient is (trial, site, patient_ref): one site's refs never collide with another's.
-- 3. Subjects change only by an audited withdrawal; screenings never change. `audit verify`
--    cross-checks both tables against the chain, these triggers stop the casual edit.
-- SQLite cannot drop a table constraint, so the subjects table is rebuilt.

CREATE TABLE subjects_rebuilt (
    id                  TEXT PRIMARY KEY NOT NULL,
    trial_id            TEXT NOT NULL REFERENCES trials (id),
    sequence            BIGINT NOT NULL,
    screening_id        TEXT NOT NULL REFERENCES screenings (id),
    patient_ref         TEXT NOT NULL,
    site                TEXT NOT NULL,
    stratum_key         TEXT NOT NULL,
    stratum_position    BIGINT NOT NULL,
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
    CONSTRAINT subjects_trial_site_patient_key UNIQUE (trial_id, site, patient_ref),
    CONSTRAINT subjects_trial_stratum_position_key UNIQUE (trial_id, stratum_key, stratum_position),
    CONSTRAINT subjects_idempotency_key UNIQUE (randomized_by, idempotency_key)
);

INSERT INTO subjects_rebuilt
SELECT id, trial_id, sequence, screening_id, patient_ref, site, stratum_key, stratum_position,
       arm, randomized_at, randomized_by, status, withdrawn_at, withdrawn_by, withdrawal_reason,
       audit_seq, idempotency_key, request_fingerprint
FROM subjects;

DROP TABLE subjects;
ALTER TABLE subjects_rebuilt RENAME TO subjects;
CREATE INDEX subjects_screening_idx ON subjects (screening_id);

-- The patient's latest screening, within its site.
CREATE INDEX screenings_trial_site_patient_seq_idx
    ON screenings (trial_id, site, patient_ref, audit_seq);
DROP INDEX screenings_trial_patient_seq_idx;

CREATE TRIGGER subjects_no_delete BEFORE DELETE ON subjects
BEGIN
    SELECT RAISE(ABORT, 'subjects rows cannot be deleted');
END;

-- The one change a subject row may undergo: on_study → withdrawn, right after the chain's
-- newest entry recorded that withdrawal of that subject by that user.
CREATE TRIGGER subjects_only_audited_withdrawal BEFORE UPDATE ON subjects
WHEN NEW.id IS NOT OLD.id
  OR NEW.trial_id IS NOT OLD.trial_id
  OR NEW.sequence IS NOT OLD.sequence
  OR NEW.screening_id IS NOT OLD.screening_id
  OR NEW.patient_ref IS NOT OLD.patient_ref
  OR NEW.site IS NOT OLD.site
  OR NEW.stratum_key IS NOT OLD.stratum_key
  OR NEW.stratum_position IS NOT OLD.stratum_position
  OR NEW.arm IS NOT OLD.arm
  OR NEW.randomized_at IS NOT OLD.randomized_at
  OR NEW.randomized_by IS NOT OLD.randomized_by
  OR NEW.audit_seq IS NOT OLD.audit_seq
  OR NEW.idempotency_key IS NOT OLD.idempotency_key
  OR NEW.request_fingerprint IS NOT OLD.request_fingerprint
  OR OLD.status <> 'on_study'
  OR NEW.status <> 'withdrawn'
  OR NEW.withdrawn_at IS NULL
  OR NEW.withdrawn_by IS NULL
  OR NEW.withdrawal_reason IS NULL
  OR NOT EXISTS (
      SELECT 1 FROM audit_heads h
      JOIN audit_entries e ON e.chain = h.chain AND e.seq = h.seq
      WHERE h.chain = NEW.trial_id
        AND e.action = 'subject.withdrawn'
        AND e.actor = NEW.withdrawn_by
        AND json_extract(e.record, '$.data.subject_id') = NEW.id
  )
BEGIN
    SELECT RAISE(ABORT, 'subjects rows change only by an audited withdrawal');
END;

CREATE TRIGGER screenings_no_update BEFORE UPDATE ON screenings
BEGIN
    SELECT RAISE(ABORT, 'screenings are append-only: UPDATE refused');
END;

CREATE TRIGGER screenings_no_delete BEFORE DELETE ON screenings
BEGIN
    SELECT RAISE(ABORT, 'screenings are append-only: DELETE refused');
END;
