# Withdrawal and correction forms.
nothing-changed = Nothing was changed: correct at least one value, or leave the screening as it is.
withdraw-title = Withdraw { $patient } from the trial
withdraw-closed = The trial is closed; no subject can be withdrawn.
withdraw-explained = The subject stays in their arm for the analysis (intention to treat); the withdrawal and its reason are recorded in the audit trail.
withdraw-reason = Reason for the withdrawal
review = Review
back-to-subject = Back to the subject
withdraw-page-title = Withdraw a subject
already-withdrawn = This subject is already withdrawn
paren-open = {" "}(
comma-by = , by{" "}
paren-close = )
nothing-was-changed = {" "}Nothing was changed.
withdraw-confirm-title = Withdraw patient { $patient } (subject { $subject })? This cannot be undone.
withdraw-patient = Withdraw { $patient }
withdraw-confirm-page-title = Confirm withdrawal
