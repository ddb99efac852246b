DROP TABLE deviations;
DROP TABLE correction_decisions;
DROP FUNCTION corrections_append_only();
DROP INDEX screenings_idempotency;
ALTER TABLE screenings DROP COLUMN request_fingerprint;
ALTER TABLE screenings DROP COLUMN idempotency_key;
ALTER TABLE screenings DROP COLUMN correction_reason;
ALTER TABLE screenings DROP COLUMN correction_status;
ALTER TABLE screenings DROP COLUMN corrects;
