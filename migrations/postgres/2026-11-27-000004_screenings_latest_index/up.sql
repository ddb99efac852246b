-- The patient's latest screening (`WHERE trial_id = ? AND patient_ref = ? ORDER BY audit_seq DESC
-- LIMIT 1`, run inside every randomization) from one index entry. With only (trial_id,
-- patient_ref) SQLite's planner used UNIQUE (trial_id, audit_seq) to avoid the sort and read every
-- screening row of the trial, newest first: O(screenings) pages per randomization.
CREATE INDEX screenings_trial_patient_seq_idx ON screenings (trial_id, patient_ref, audit_seq);
DROP INDEX screenings_trial_patient_idx;
