-- Concealment and patient identity (issue: nobody can game an allocation).
-- 1. Subjects no longer store block index or size: while the seed is secret no column may hold
--    where blocks begin. Block information after a reveal is computed from the revealed seed.
-- 2. A patient is (trial, site, patient_ref): one site's refs never collide with another's.
-- 3. Subjects change only by an audited withdrawal; screenings never change. `audit verify`
--    cross-checks both tables against the chain, these triggers stop the casual edit.

ALTER TABLE subjects DROP COLUMN block_index, DROP COLUMN block_size;
ALTER TABLE subjects DROP CONSTRAINT subjects_trial_patient_key;
ALTER TABLE subjects
    ADD CONSTRAINT subjects_trial_site_patient_key UNIQUE (trial_id, site, patient_ref);

-- The patient's latest screening, within its site.
CREATE INDEX screenings_trial_site_patient_seq_idx
    ON screenings (trial_id, site, patient_ref, audit_seq);
DROP INDEX screenings_trial_patient_seq_idx;

-- The one change a subject row may undergo: on_study → withdrawn, right after the chain's
-- newest entry recorded that withdrawal of that subject by that user.
CREATE FUNCTION subjects_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'subjects rows cannot be deleted (% refused)', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.id, NEW.trial_id, NEW.sequence, NEW.screening_id, NEW.patient_ref, NEW.site,
        NEW.stratum_key, NEW.stratum_position, NEW.arm, NEW.randomized_at, NEW.randomized_by,
        NEW.audit_seq, NEW.idempotency_key, NEW.request_fingerprint)
       IS DISTINCT FROM
       (OLD.id, OLD.trial_id, OLD.sequence, OLD.screening_id, OLD.patient_ref, OLD.site,
        OLD.stratum_key, OLD.stratum_position, OLD.arm, OLD.randomized_at, OLD.randomized_by,
        OLD.audit_seq, OLD.idempotency_key, OLD.request_fingerprint)
       OR OLD.status <> 'on_study'
       OR NEW.status <> 'withdrawn'
       OR NEW.withdrawn_at IS NULL
       OR NEW.withdrawn_by IS NULL
       OR NEW.withdrawal_reason IS NULL
       OR NOT EXISTS (
           SELECT 1 FROM audit_heads h
           JOIN audit_entries e ON e.chain = h.chain AND e.seq = h.seq
           WHERE h.chain = NEW.trial_id
             AND e.action = 'subject.withdrawn'
             AND e.actor = NEW.withdrawn_by
             AND (e.record::jsonb) -> 'data' ->> 'subject_id' = NEW.id
       ) THEN
        RAISE EXCEPTION 'subjects rows change only by an audited withdrawal'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER subjects_guard_update BEFORE UPDATE ON subjects
    FOR EACH ROW EXECUTE FUNCTION subjects_guard();
CREATE TRIGGER subjects_guard_delete BEFORE DELETE ON subjects
    FOR EACH ROW EXECUTE FUNCTION subjects_guard();
CREATE TRIGGER subjects_guard_truncate BEFORE TRUNCATE ON subjects
    FOR EACH STATEMENT EXECUTE FUNCTION subjects_guard();

CREATE FUNCTION screenings_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'screenings are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER screenings_no_update BEFORE UPDATE ON screenings
    FOR EACH ROW EXECUTE FUNCTION screenings_append_only();
CREATE TRIGGER screenings_no_delete BEFORE DELETE ON screenings
    FOR EACH ROW EXECUTE FUNCTION screenings_append_only();
CREATE TRIGGER screenings_no_truncate BEFORE TRUNCATE ON screenings
    FOR EACH STATEMENT EXECUTE FUNCTION screenings_append_only();
