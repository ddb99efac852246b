-- Passwords for people (argon2id PHC strings; NULL until the account is activated with its
-- one-time token), expiring API tokens, and electronic signatures (21 CFR 11.50) on the rows
-- whose act was signed: the signature manifestation as JSON, as in the audit entry.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN password_set_at TIMESTAMP;
ALTER TABLE tokens ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE subjects ADD COLUMN randomization_signature TEXT;
ALTER TABLE subjects ADD COLUMN withdrawal_signature TEXT;
ALTER TABLE correction_decisions ADD COLUMN signature TEXT;
ALTER TABLE trials ADD COLUMN close_signature TEXT;

-- The randomization's signature is as fixed as the arm; a withdrawal may bring its own.
CREATE OR REPLACE FUNCTION subjects_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'subjects rows cannot be deleted (% refused)', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.id, NEW.trial_id, NEW.sequence, NEW.screening_id, NEW.patient_ref, NEW.site,
        NEW.stratum_key, NEW.stratum_position, NEW.arm, NEW.randomized_at, NEW.randomized_by,
        NEW.audit_seq, NEW.idempotency_key, NEW.request_fingerprint,
        NEW.randomization_signature)
       IS DISTINCT FROM
       (OLD.id, OLD.trial_id, OLD.sequence, OLD.screening_id, OLD.patient_ref, OLD.site,
        OLD.stratum_key, OLD.stratum_position, OLD.arm, OLD.randomized_at, OLD.randomized_by,
        OLD.audit_seq, OLD.idempotency_key, OLD.request_fingerprint,
        OLD.randomization_signature)
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
