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

ALTER TABLE trials DROP COLUMN close_signature;
ALTER TABLE correction_decisions DROP COLUMN signature;
ALTER TABLE subjects DROP COLUMN withdrawal_signature;
ALTER TABLE subjects DROP COLUMN randomization_signature;
ALTER TABLE tokens DROP COLUMN expires_at;
ALTER TABLE users DROP COLUMN password_set_at;
ALTER TABLE users DROP COLUMN password_hash;
