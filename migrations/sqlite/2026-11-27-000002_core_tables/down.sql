DROP INDEX subjects_screening_idx;
DROP TABLE subjects;
DROP INDEX screenings_trial_patient_idx;
DROP TABLE screenings;
DROP INDEX tokens_user_name_idx;
DROP TABLE tokens;
DROP TABLE users;
DROP TABLE trials;
