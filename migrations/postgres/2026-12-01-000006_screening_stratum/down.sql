ALTER TABLE screenings DROP COLUMN stratum_key;
