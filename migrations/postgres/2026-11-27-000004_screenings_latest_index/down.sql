CREATE INDEX screenings_trial_patient_idx ON screenings (trial_id, patient_ref);
DROP INDEX screenings_trial_patient_seq_idx;
