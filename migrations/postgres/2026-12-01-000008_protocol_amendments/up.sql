-- Protocol amendments: every version of a trial's protocol, append-only. Version 1 is the one
-- the trial was initialised with; trials.protocol_json/_digest/_version are the version in
-- force, changed only with a protocol.amended audit entry in the same transaction.
CREATE TABLE protocol_versions (
    trial_id        TEXT NOT NULL REFERENCES trials (id),
    version         INTEGER NOT NULL CHECK (version >= 1),
    protocol_json   TEXT NOT NULL,
    protocol_digest TEXT NOT NULL CHECK (length(protocol_digest) = 64),
    effective_at    TIMESTAMP NOT NULL,
    reason          TEXT NOT NULL,
    amended_by      TEXT NOT NULL,
    PRIMARY KEY (trial_id, version)
);

INSERT INTO protocol_versions
    (trial_id, version, protocol_json, protocol_digest, effective_at, reason, amended_by)
SELECT id, 1, protocol_json, protocol_digest, created_at, 'initialised', 'trialgate' FROM trials;

CREATE FUNCTION protocol_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'protocol_versions are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER protocol_versions_no_update BEFORE UPDATE ON protocol_versions
    FOR EACH ROW EXECUTE FUNCTION protocol_versions_append_only();
CREATE TRIGGER protocol_versions_no_delete BEFORE DELETE ON protocol_versions
    FOR EACH ROW EXECUTE FUNCTION protocol_versions_append_only();
CREATE TRIGGER protocol_versions_no_truncate BEFORE TRUNCATE ON protocol_versions
    FOR EACH STATEMENT EXECUTE FUNCTION protocol_versions_append_only();

ALTER TABLE trials ADD COLUMN protocol_version INTEGER NOT NULL DEFAULT 1;
-- The protocol version a screening was evaluated under.
ALTER TABLE screenings ADD COLUMN protocol_version INTEGER NOT NULL DEFAULT 1;
