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
DROP TRIGGER subjects_only_audited_withdrawal;
CREATE TRIGGER subjects_only_audited_withdrawal BEFORE UPDATE ON subjects
WHEN NEW.id IS NOT OLD.id
  OR NEW.trial_id IS NOT OLD.trial_id
  OR NEW.sequence IS NOT OLD.sequence
  OR NEW.screening_id IS NOT OLD.screening_id
  OR NEW.patient_ref IS NOT OLD.patient_ref
  OR NEW.site IS NOT OLD.site
  OR NEW.stratum_key IS NOT OLD.stratum_key
  OR NEW.stratum_position IS NOT OLD.stratum_position
  OR NEW.arm IS NOT OLD.arm
  OR NEW.randomized_at IS NOT OLD.randomized_at
  OR NEW.randomized_by IS NOT OLD.randomized_by
  OR NEW.audit_seq IS NOT OLD.audit_seq
  OR NEW.idempotency_key IS NOT OLD.idempotency_key
  OR NEW.request_fingerprint IS NOT OLD.request_fingerprint
  OR NEW.randomization_signature IS NOT OLD.randomization_signature
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
        AND json_extract(e.record, '$.data.subject_id') = NEW.id
  )
BEGIN
    SELECT RAISE(ABORT, 'subjects rows change only by an audited withdrawal');
END;
