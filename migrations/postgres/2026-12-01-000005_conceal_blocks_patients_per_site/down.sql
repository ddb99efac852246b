-- Block columns come back empty (0): the values were never kept.
DROP TRIGGER screenings_no_truncate ON screenings;
DROP TRIGGER screenings_no_delete ON screenings;
DROP TRIGGER screenings_no_update ON screenings;
DROP FUNCTION screenings_append_only();
DROP TRIGGER subjects_guard_truncate ON subjects;
DROP TRIGGER subjects_guard_delete ON subjects;
DROP TRIGGER subjects_guard_update ON subjects;
DROP FUNCTION subjects_guard();

CREATE INDEX screenings_trial_patient_seq_idx ON screenings (trial_id, patient_ref, audit_seq);
DROP INDEX screenings_trial_site_patient_seq_idx;

ALTER TABLE subjects DROP CONSTRAINT subjects_trial_site_patient_key;
ALTER TABLE subjects ADD CONSTRAINT subjects_trial_patient_key UNIQUE (trial_id, patient_ref);
ALTER TABLE subjects
    ADD COLUMN block_index BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN block_size INTEGER NOT NULL DEFAULT 0;
