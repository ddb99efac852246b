-- Corrections, their approval and the deviations they reveal (docs/api.md, "Corrections,
-- approvals and deviations"). A correction is a new screenings row naming the one it corrects;
-- rows stay append-only, so a decision on a pending correction is a row of its own.
ALTER TABLE screenings ADD COLUMN corrects TEXT REFERENCES screenings (id);
-- As recorded: 'applied' (patient not randomized) or 'pending' (waits for a monitor).
ALTER TABLE screenings ADD COLUMN correction_status TEXT
    CHECK (correction_status IN ('applied', 'pending'));
ALTER TABLE screenings ADD COLUMN correction_reason TEXT;
-- A client's (or the web form's) one-time key: a resubmitted form records one screening.
ALTER TABLE screenings ADD COLUMN idempotency_key TEXT;
ALTER TABLE screenings ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX screenings_idempotency
    ON screenings (trial_id, screened_by, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE correction_decisions (
    screening_id TEXT PRIMARY KEY REFERENCES screenings (id),
    trial_id     TEXT NOT NULL REFERENCES trials (id),
    decision     TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason       TEXT NOT NULL,
    decided_by   TEXT NOT NULL,
    decided_at   TIMESTAMP NOT NULL,
    audit_seq    BIGINT NOT NULL
);

CREATE TABLE deviations (
    id           TEXT PRIMARY KEY,
    trial_id     TEXT NOT NULL REFERENCES trials (id),
    subject_id   TEXT NOT NULL REFERENCES subjects (id),
    kind         TEXT NOT NULL CHECK (kind IN ('ineligible_randomized', 'misstratified')),
    screening_id TEXT NOT NULL REFERENCES screenings (id),
    recorded_at  TIMESTAMP NOT NULL,
    audit_seq    BIGINT NOT NULL,
    UNIQUE (screening_id, kind)
);
CREATE INDEX deviations_by_trial ON deviations (trial_id, audit_seq);

CREATE FUNCTION corrections_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER correction_decisions_no_update BEFORE UPDATE ON correction_decisions
    FOR EACH ROW EXECUTE FUNCTION corrections_append_only();
CREATE TRIGGER correction_decisions_no_delete BEFORE DELETE ON correction_decisions
    FOR EACH ROW EXECUTE FUNCTION corrections_append_only();
CREATE TRIGGER correction_decisions_no_truncate BEFORE TRUNCATE ON correction_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION corrections_append_only();
CREATE TRIGGER deviations_no_update BEFORE UPDATE ON deviations
    FOR EACH ROW EXECUTE FUNCTION corrections_append_only();
CREATE TRIGGER deviations_no_delete BEFORE DELETE ON deviations
    FOR EACH ROW EXECUTE FUNCTION corrections_append_only();
CREATE TRIGGER deviations_no_truncate BEFORE TRUNCATE ON deviations
    FOR EACH STATEMENT EXECUTE FUNCTION corrections_append_only();
