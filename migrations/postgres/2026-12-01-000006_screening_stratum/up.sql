-- The stratum a screened patient is randomized in, fixed when the screening is recorded (and
-- written in its screening.recorded entry), so a later amendment of the input rules cannot
-- move it. NULL for a screening recorded before this column existed (randomization then
-- reads the factor values from the stored input) or when a factor was not given.
ALTER TABLE screenings ADD COLUMN stratum_key TEXT;
