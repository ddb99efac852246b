//! Randomization and withdrawal: the allocation transaction.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::screening::{ensure_open, in_force};
use super::{format_time, now, TrialRuntime};
use crate::access::{Permission, User};
use crate::audit::signature::{Meaning, Signature};
use crate::audit::Action;
use crate::eligibility::{Outcome, RawScreening};
use crate::protocol::{Protocol, SubjectStatus};
use crate::randomization::{allocation_at, stratum_key};
use crate::service::error::{impossible_id, Internal, Invalid, NotFound, TrialClosed};
use crate::service::signatures::Signer;
use crate::service::views::Allocation;
use crate::storage::{self, repo, DbConnection, StorageError};

/// Why a randomization or a withdrawal did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AllocationError {
    #[error(transparent)]
    Denied(#[from] crate::access::AccessDenied),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("screening {screening_id} is {outcome}, not eligible{}", .version.map_or(String::new(), |v| format!(" under protocol version {v}, the version in force")))]
    NotEligible {
        screening_id: String,
        outcome: Outcome,
        /// Set when the screening was eligible under the version it was screened with.
        version: Option<i32>,
    },
    #[error("screening {screening_id} of {screening_date} is older than the protocol's {days} days: screen the patient again")]
    ScreeningExpired {
        screening_id: String,
        screening_date: chrono::NaiveDate,
        days: u32,
    },
    #[error("patient is already randomized as subject {subject_id}")]
    AlreadyRandomized { subject_id: String },
    #[error("screening {0} is not the patient's latest screening")]
    StaleScreening(String),
    #[error("enrollment is closed: the cap of {cap} randomized subjects is reached")]
    EnrollmentClosed { cap: i64 },
    #[error(transparent)]
    TrialClosed(#[from] TrialClosed),
    #[error("subject {0} is already withdrawn")]
    AlreadyWithdrawn(String),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyConflict,
    #[error("randomization of trial {0} is unavailable: its seed file is missing or does not match the recorded commitment")]
    SeedUnavailable(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<diesel::result::Error> for AllocationError {
    fn from(e: diesel::result::Error) -> Self {
        AllocationError::Storage(e.into())
    }
}

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// What a randomization produced: a new allocation, or the one an earlier request with the
/// same idempotency key produced.
pub struct Randomized {
    pub allocation: Allocation,
    pub replayed: bool,
}

/// Randomizes the patient of `screening_id`. One transaction checks every rule, takes the
/// stratum's next position, computes the arm from the seed, inserts the subject and writes
/// its audit entry; the chain-head lock serialises it against every other write of the trial.
#[tracing::instrument(name = "randomize", skip_all, fields(trial = %trial.protocol.id, user = %user.name, screening = %screening_id))]
pub fn randomize(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    screening_id: &str,
    idempotency_key: Option<&str>,
    signer: Option<&Signer>,
) -> Result<Randomized, AllocationError> {
    user.require_permission(Permission::Randomize)?;
    if let Some(key) = idempotency_key {
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !key.is_ascii() {
            return Err(Invalid::field(
                "Idempotency-Key",
                format!("must be 1–{MAX_IDEMPOTENCY_KEY_LEN} ASCII characters"),
            )
            .into());
        }
    }
    if impossible_id(screening_id) {
        return Err(NotFound::screening(screening_id).into());
    }
    let protocol = &trial.protocol;
    let trial_id = protocol.id.as_str();
    let fingerprint = request_fingerprint(trial_id, screening_id);
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        if let Some(key) = idempotency_key {
            if let Some(existing) = repo::subjects::by_idempotency_key(c, &user.name, key)? {
                if existing.request_fingerprint.as_deref() != Some(fingerprint.as_str()) {
                    return Err(AllocationError::IdempotencyConflict);
                }
                return Ok(Randomized {
                    allocation: allocation_view(protocol, &existing),
                    replayed: true,
                });
            }
        }
        let screening = repo::screenings::get(c, trial_id, screening_id)?
            .ok_or_else(|| NotFound::screening(screening_id))?;
        user.require_site(&screening.site)?;
        if let Some(subject) =
            repo::subjects::for_patient(c, trial_id, &screening.site, &screening.patient_ref)?
        {
            return Err(AllocationError::AlreadyRandomized {
                subject_id: subject.id,
            });
        }
        let latest =
            repo::screenings::latest_id(c, trial_id, &screening.site, &screening.patient_ref)?;
        if latest.as_deref() != Some(screening.id.as_str()) {
            return Err(AllocationError::StaleScreening(screening.id));
        }
        if screening.outcome != Outcome::Eligible {
            return Err(AllocationError::NotEligible {
                screening_id: screening.id,
                outcome: screening.outcome,
                version: None,
            });
        }
        let current = in_force::<AllocationError>(c, trial)?;
        let protocol: &Protocol = &current.protocol;
        // Screened under an earlier version: it must be eligible under the one in force.
        if screening.protocol_version != current.version {
            let outcome = outcome_under(protocol, &screening)?;
            if outcome != Outcome::Eligible {
                return Err(AllocationError::NotEligible {
                    screening_id: screening.id,
                    outcome,
                    version: Some(current.version),
                });
            }
        }
        if let Some(days) = protocol.screening_valid_days {
            let age = (at.date() - screening.screening_date).num_days();
            if age > i64::from(days) {
                return Err(AllocationError::ScreeningExpired {
                    screening_id: screening.id,
                    screening_date: screening.screening_date,
                    days,
                });
            }
        }
        if current.status == crate::protocol::TrialStatus::Closed {
            return Err(TrialClosed(trial_id.to_string()).into());
        }
        let enrolled = repo::subjects::count(c, trial_id)?;
        if enrolled >= i64::from(protocol.cap) {
            return Err(AllocationError::EnrollmentClosed {
                cap: i64::from(protocol.cap),
            });
        }
        let seed = trial
            .seed
            .as_ref()
            .ok_or_else(|| AllocationError::SeedUnavailable(trial_id.to_string()))?;

        let stratum = stratum_of(protocol, &screening)?;
        // Unstratified, the stratum is the whole trial: its position is the enrolled count.
        let position = if protocol.stratification.is_empty() {
            enrolled
        } else {
            repo::subjects::count_in_stratum(c, trial_id, &stratum)?
        };
        let scheduled = allocation_at(seed, trial_id, &stratum, protocol.design(), position as u64);
        let arm = &protocol.arms[scheduled.arm];
        let sequence = enrolled + 1;
        let subject_id = format!("{trial_id}-{sequence:04}");
        let signature = signer.map(|s| {
            s.sign(
                &Meaning::Randomize {
                    patient_ref: screening.patient_ref.clone(),
                },
                at,
            )
        });
        let mut data = json!({
            "subject_id": subject_id,
            "screening_id": screening.id,
            "patient_ref": screening.patient_ref,
            "site": screening.site,
            "arm": arm.code,
            "sequence": sequence,
            "stratum_key": stratum,
            "stratum_position": position,
        });
        if let Some(sig) = &signature {
            data["signature"] = json!(sig);
        }
        let signature_json = signature.as_ref().map(Signature::to_json);
        let entry = storage::append_audit(
            c,
            &mut head,
            at,
            &user.name,
            Some(user.role),
            Action::SubjectRandomized,
            data,
        )?;
        let row = repo::subjects::NewSubject {
            id: &subject_id,
            trial_id,
            sequence,
            screening_id: &screening.id,
            patient_ref: &screening.patient_ref,
            site: &screening.site,
            stratum_key: &stratum,
            stratum_position: position,
            arm: &arm.code,
            randomized_at: at,
            randomized_by: &user.name,
            status: SubjectStatus::OnStudy,
            withdrawn_at: None,
            withdrawn_by: None,
            withdrawal_reason: None,
            audit_seq: entry.seq,
            idempotency_key,
            request_fingerprint: idempotency_key.map(|_| fingerprint.as_str()),
            randomization_signature: signature_json.as_deref(),
        };
        let subject = repo::subjects::insert(c, &row)?;
        Ok(Randomized {
            allocation: allocation_view(protocol, &subject),
            replayed: false,
        })
    })
}

/// The stratum of a screened patient: the one fixed when it was screened. A screening
/// recorded before strata were stored has its factor values read from the stored input,
/// shape only, so later changes to the input rules do not refuse it.
fn stratum_of(
    protocol: &crate::protocol::Protocol,
    screening: &crate::storage::models::Screening,
) -> Result<String, Internal> {
    if let Some(stratum) = &screening.stratum_key {
        return Ok(stratum.clone());
    }
    if protocol.stratification.is_empty() {
        return Ok(String::new());
    }
    let submitted = RawScreening::from_json(screening.input_json.as_bytes())
        .map_err(|e| Internal::caused(format!("stored screening {}", screening.id), e))?;
    let mut factors = Vec::new();
    for f in &protocol.stratification {
        // The site as stored is the canonical one.
        let value = match f {
            crate::protocol::StratificationFactor::Site => Some(screening.site.clone()),
            _ => submitted.factor_text(*f),
        };
        let value = value.ok_or_else(|| {
            Internal::new(format!(
                "screening {} lacks factor {}",
                screening.id,
                f.name()
            ))
        })?;
        factors.push((f.name(), value));
    }
    Ok(stratum_key(factors.iter().map(|(n, v)| (*n, v.as_str()))))
}

/// The outcome of a stored screening under `protocol`: its input validated and evaluated again,
/// as of its screening date.
fn outcome_under(
    protocol: &Protocol,
    screening: &crate::storage::models::Screening,
) -> Result<Outcome, Internal> {
    let raw = RawScreening::from_json(screening.input_json.as_bytes())
        .map_err(|e| Internal::caused(format!("stored screening {}", screening.id), e))?;
    // Input the current rules refuse (a narrower reference pattern, say) is not eligible.
    Ok(
        match super::screening::evaluate_request(protocol, &raw, screening.screening_date) {
            Ok((_, evaluation)) => evaluation.outcome,
            Err(_) => Outcome::Ineligible,
        },
    )
}

/// The request an idempotency key stands for: trial and screening.
fn request_fingerprint(trial_id: &str, screening_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(trial_id.as_bytes());
    h.update([0]);
    h.update(screening_id.as_bytes());
    hex::encode(h.finalize())
}

#[tracing::instrument(name = "withdraw", skip_all, fields(trial = %trial.protocol.id, user = %user.name, subject = %subject_id))]
pub fn withdraw(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    subject_id: &str,
    reason: &str,
    signer: Option<&Signer>,
) -> Result<Allocation, AllocationError> {
    user.require_permission(Permission::Withdraw)?;
    if impossible_id(subject_id) {
        return Err(NotFound::subject(subject_id).into());
    }
    let reason = crate::text::check_reason(reason, crate::text::MAX_REASON_CHARS)
        .map_err(|message| Invalid::field("reason", message))?;
    let reason = reason.as_str();
    let protocol = &trial.protocol;
    let trial_id = protocol.id.as_str();
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        let subject = repo::subjects::get(c, trial_id, subject_id)?
            .ok_or_else(|| NotFound::subject(subject_id))?;
        user.require_site(&subject.site)?;
        if subject.status == SubjectStatus::Withdrawn {
            return Err(AllocationError::AlreadyWithdrawn(subject.id));
        }
        ensure_open::<AllocationError>(c, trial_id)?;
        let signature = signer.map(|s| {
            s.sign(
                &Meaning::Withdraw {
                    subject_id: subject.id.clone(),
                },
                at,
            )
        });
        let mut data = json!({ "subject_id": subject.id, "reason": reason });
        if let Some(sig) = &signature {
            data["signature"] = json!(sig);
        }
        let signature_json = signature.as_ref().map(Signature::to_json);
        storage::append_audit(
            c,
            &mut head,
            at,
            &user.name,
            Some(user.role),
            Action::SubjectWithdrawn,
            data,
        )?;
        repo::subjects::withdraw(
            c,
            trial_id,
            &subject.id,
            at,
            &user.name,
            reason,
            signature_json.as_deref(),
        )?;
        // The row as it now stands, without reading it back.
        let withdrawn = crate::storage::models::Subject {
            status: SubjectStatus::Withdrawn,
            withdrawn_at: Some(at),
            withdrawn_by: Some(user.name.clone()),
            withdrawal_reason: Some(reason.to_string()),
            withdrawal_signature: signature_json,
            ..subject
        };
        Ok(allocation_view(protocol, &withdrawn))
    })
}

pub fn allocation_view(
    protocol: &crate::protocol::Protocol,
    s: &crate::storage::models::Subject,
) -> Allocation {
    Allocation {
        subject_id: s.id.clone(),
        sequence: s.sequence,
        arm: s.arm.clone(),
        arm_name: protocol
            .arm(&s.arm)
            .map_or_else(|| s.arm.clone(), |a| a.name.clone()),
        patient_ref: s.patient_ref.clone(),
        site: s.site.clone(),
        randomized_at: format_time(s.randomized_at),
        randomized_by: s.randomized_by.clone(),
        status: s.status,
        audit_seq: s.audit_seq,
        withdrawn_at: s.withdrawn_at.map(format_time),
        withdrawn_by: s.withdrawn_by.clone(),
        withdrawal_reason: s.withdrawal_reason.clone(),
        randomization_signature: s
            .randomization_signature
            .as_deref()
            .and_then(Signature::from_json),
        withdrawal_signature: s
            .withdrawal_signature
            .as_deref()
            .and_then(Signature::from_json),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_separates_trial_and_screening() {
        use super::request_fingerprint as f;
        assert_ne!(f("T", "a"), f("T", "b"));
        assert_ne!(f("Ta", "b"), f("T", "ab"));
        assert_eq!(f("T", "a"), f("T", "a"));
    }
}
