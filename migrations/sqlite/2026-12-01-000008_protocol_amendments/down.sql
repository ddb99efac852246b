ALTER TABLE screenings DROP COLUMN protocol_version;
ALTER TABLE trials DROP COLUMN protocol_version;
DROP TABLE protocol_versions;
