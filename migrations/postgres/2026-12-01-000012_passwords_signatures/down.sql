CREATE OR REPLACE FUNCTION subjects_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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

ALTER TABLE trials DROP COLUMN close_signature;
ALTER TABLE correction_decisions DROP COLUMN signature;
ALTER TABLE subjects DROP COLUMN withdrawal_signature;
ALTER TABLE subjects DROP COLUMN randomization_signature;
ALTER TABLE tokens DROP COLUMN expires_at;
ALTER TABLE users DROP COLUMN password_set_at;
ALTER TABLE users DROP COLUMN password_hash;
