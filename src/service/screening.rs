//! Screening a patient: validate, evaluate, record with its audit entry.

use std::borrow::Cow;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{now, TrialRuntime};
use crate::access::{Permission, User};
use crate::audit::Action;
use crate::eligibility::{evaluate, Evaluation, FieldError, RawScreening};
use crate::protocol::{Protocol, TrialStatus};
use crate::service::error::{Internal, Invalid, NotFound, TrialClosed};
use crate::service::views::ScreeningView;
use crate::storage::{self, repo, DbConnection, StorageError};

/// Why a screening was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ScreeningError {
    #[error(transparent)]
    Denied(#[from] crate::access::AccessDenied),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    TrialClosed(#[from] TrialClosed),
    /// Screening a randomized patient again would leave a screening next to the subject that
    /// nobody reviewed: a correction (reasoned, approved) is the way to change it.
    #[error("patient is already randomized as subject {subject_id}: correct the screening instead of screening again")]
    AlreadyRandomized { subject_id: String },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyConflict,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<diesel::result::Error> for ScreeningError {
    fn from(e: diesel::result::Error) -> Self {
        ScreeningError::Storage(e.into())
    }
}

/// Validates and evaluates a screening request under `protocol`, without touching the database.
pub fn evaluate_request(
    protocol: &Protocol,
    raw: &RawScreening,
    today: chrono::NaiveDate,
) -> Result<(crate::eligibility::ScreeningInput, Evaluation), Invalid> {
    let validated = raw.validate(today, protocol);
    // A stratified trial cannot place a patient whose factor is unknown; reported together
    // with every other problem of the request.
    let mut errors = validated.as_ref().err().cloned().unwrap_or_default();
    for f in &protocol.stratification {
        if raw.factor_text(*f).is_none() && !errors.iter().any(|e| e.field == f.name()) {
            errors.push(FieldError::new(
                f.name(),
                "is required: the trial is stratified by this factor",
            ));
        }
    }
    match validated {
        Ok(input) if errors.is_empty() => {
            let evaluation = evaluate(protocol, &input);
            Ok((input, evaluation))
        }
        _ => Err(Invalid(errors)),
    }
}

/// Every refusal of a screening request whose shape was partly wrong: the `shape` errors
/// (wrong type, unknown field: those fields were taken out) with the meaning errors of the
/// rest, so a client learns every problem in one answer. Meaning errors about a field the
/// shape already refused are left out.
pub fn all_errors(
    protocol: &Protocol,
    rest: &RawScreening,
    shape: Vec<FieldError>,
    today: chrono::NaiveDate,
) -> Invalid {
    let covered = |field: &str| {
        shape.iter().any(|s| {
            field == s.field
                || field.starts_with(&format!("{}.", s.field))
                || s.field.starts_with(&format!("{field}."))
        })
    };
    let meaning = match evaluate_request(protocol, rest, today) {
        Ok(_) => Vec::new(),
        Err(Invalid(errors)) => errors,
    };
    let extra: Vec<FieldError> = meaning.into_iter().filter(|e| !covered(&e.field)).collect();
    let mut errors = shape;
    errors.extend(extra);
    Invalid(errors)
}

/// What a screening request produced: a new screening, or the one an earlier request with
/// the same idempotency key (a resubmitted form) recorded.
pub struct Recorded {
    pub screening: ScreeningView,
    pub replayed: bool,
}

/// Longest accepted idempotency key (and web form token).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

pub fn record(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    raw: &RawScreening,
) -> Result<ScreeningView, ScreeningError> {
    record_once(conn, trial, user, raw, None).map(|r| r.screening)
}

/// Records a screening; with `idempotency_key`, a repeat of the same request by the same user
/// returns the first one's screening instead of recording a second.
#[tracing::instrument(name = "screen", skip_all, fields(trial = %trial.protocol.id, user = %user.name))]
pub fn record_once(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    raw: &RawScreening,
    idempotency_key: Option<&str>,
) -> Result<Recorded, ScreeningError> {
    user.require_permission(Permission::Screen)?;
    if let Some(key) = idempotency_key {
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !key.is_ascii() {
            return Err(Invalid::field(
                "Idempotency-Key",
                format!("must be 1–{MAX_IDEMPOTENCY_KEY_LEN} ASCII characters"),
            )
            .into());
        }
    }
    let at = now();
    // Evaluated before taking the lock; again inside it only if another server has amended
    // the protocol since this one cached it.
    // A site must be registered (reported with every other problem of the request).
    let unregistered = match raw.site.as_deref() {
        Some(site) => super::sites::unregistered_site(conn, site)?,
        None => None,
    };
    let evaluated =
        evaluate_request(&trial.protocol, raw, at.date()).map_err(|Invalid(mut e)| {
            if let Some(u) = &unregistered {
                if !e.iter().any(|f| f.field == "site") {
                    e.push(u.clone());
                }
            }
            Invalid(e)
        })?;
    if let Some(u) = unregistered {
        return Err(Invalid(vec![u]).into());
    }
    user.require_site(&evaluated.0.site)?;
    let trial_id = trial.protocol.id.as_str();
    let submitted =
        serde_json::to_value(raw).map_err(|e| Internal::caused("encoding the screening", e))?;
    let input_json = submitted.to_string();
    let fingerprint = idempotency_key.map(|_| hex::encode(Sha256::digest(input_json.as_bytes())));
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        if let Some(key) = idempotency_key {
            if let Some(existing) =
                repo::screenings::by_idempotency_key(c, trial_id, &user.name, key)?
            {
                if existing.request_fingerprint != fingerprint {
                    return Err(ScreeningError::IdempotencyConflict);
                }
                let latest = repo::screenings::latest_id(
                    c,
                    trial_id,
                    &existing.site,
                    &existing.patient_ref,
                )?;
                let subject = repo::subjects::for_patient(
                    c,
                    trial_id,
                    &existing.site,
                    &existing.patient_ref,
                )?;
                let is_latest = latest.as_deref() == Some(existing.id.as_str());
                return Ok(Recorded {
                    screening: ScreeningView::from_row(
                        &existing,
                        is_latest,
                        subject.map(|s| s.id),
                        None,
                    )?,
                    replayed: true,
                });
            }
        }
        let current = in_force::<ScreeningError>(c, trial)?;
        let (input, evaluation) = if current.version == trial.version {
            evaluated
        } else {
            evaluate_request(&current.protocol, raw, at.date())?
        };
        if current.status == TrialStatus::Closed {
            return Err(TrialClosed(trial_id.to_string()).into());
        }
        if let Some(subject) =
            repo::subjects::for_patient(c, trial_id, &input.site, &input.patient_ref)?
        {
            return Err(ScreeningError::AlreadyRandomized {
                subject_id: subject.id,
            });
        }
        let row = stored_row(
            c,
            &mut head,
            user,
            Action::ScreeningRecorded,
            Stored {
                trial_id,
                at,
                protocol: &current.protocol,
                version: current.version,
                input: &input,
                evaluation: &evaluation,
                submitted: &submitted,
                input_json: input_json.clone(),
                correction: None,
                idempotency_key,
                request_fingerprint: fingerprint.as_deref(),
            },
            serde_json::Map::new(),
        )?;
        Ok(Recorded {
            screening: ScreeningView::from_row(&row, true, None, None)?,
            replayed: false,
        })
    })
}

/// A correction's part of a screening row.
pub(crate) struct CorrectionOf<'a> {
    pub corrects: &'a str,
    pub status: crate::protocol::CorrectionStatus,
    pub reason: &'a str,
}

/// Everything a new screening row is made of.
pub(crate) struct Stored<'a> {
    pub trial_id: &'a str,
    pub at: chrono::NaiveDateTime,
    pub protocol: &'a Protocol,
    pub version: i32,
    pub input: &'a crate::eligibility::ScreeningInput,
    pub evaluation: &'a Evaluation,
    pub submitted: &'a serde_json::Value,
    pub input_json: String,
    pub correction: Option<CorrectionOf<'a>>,
    pub idempotency_key: Option<&'a str>,
    pub request_fingerprint: Option<&'a str>,
}

/// Writes a screening's audit entry (`action`, its data being the screening's fields plus
/// `extra`) and its row, with the chain head locked. Returns the row as stored.
pub(crate) fn stored_row(
    c: &mut DbConnection,
    head: &mut storage::ChainHead,
    user: &User,
    action: Action,
    s: Stored<'_>,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<crate::storage::models::Screening, ScreeningError> {
    let id = uuid::Uuid::now_v7().to_string();
    let stratum = stratum_key_of(s.protocol, s.input);
    let result_json = serde_json::to_string(s.evaluation)
        .map_err(|e| Internal::caused("encoding the evaluation", e))?;
    let mut data = json!({
        "screening_id": id,
        "patient_ref": s.input.patient_ref,
        "site": s.input.site,
        "screening_date": s.input.screening_date.to_string(),
        "input": s.submitted,
        "outcome": s.evaluation.outcome,
        "missing": s.evaluation.missing,
        "criteria": s.evaluation.criteria,
        "stratum_key": stratum,
        "protocol_version": s.version,
    });
    if let Some(object) = data.as_object_mut() {
        if let Some(correction) = &s.correction {
            object.insert("corrects".into(), correction.corrects.into());
            object.insert(
                "correction_status".into(),
                correction.status.as_str().into(),
            );
            object.insert("reason".into(), correction.reason.into());
        }
        object.extend(extra);
    }
    let entry = storage::append_audit(c, head, s.at, &user.name, Some(user.role), action, data)?;
    let row = crate::storage::models::Screening {
        id,
        trial_id: s.trial_id.to_string(),
        patient_ref: s.input.patient_ref.to_string(),
        site: s.input.site.clone(),
        outcome: s.evaluation.outcome,
        input_json: s.input_json,
        result_json,
        screening_date: s.input.screening_date,
        screened_at: s.at,
        screened_by: user.name.clone(),
        audit_seq: entry.seq,
        stratum_key: stratum,
        protocol_version: s.version,
        corrects: s.correction.as_ref().map(|c| c.corrects.to_string()),
        correction_status: s.correction.as_ref().map(|c| c.status),
        correction_reason: s.correction.as_ref().map(|c| c.reason.to_string()),
        idempotency_key: s.idempotency_key.map(str::to_string),
        request_fingerprint: s.request_fingerprint.map(str::to_string),
    };
    repo::screenings::insert(c, &row.as_new())?;
    Ok(row)
}

/// The stratum a screened patient would be randomized in, fixed at screening so a later
/// amendment of the input rules cannot move it: `""` when the trial is unstratified, `None`
/// when a factor is unknown (the patient cannot be randomized; refused above when stratified).
fn stratum_key_of(
    protocol: &crate::protocol::Protocol,
    input: &crate::eligibility::ScreeningInput,
) -> Option<String> {
    let factors = protocol
        .stratification
        .iter()
        .map(|f| input.factor_value(*f).map(|value| (f.name(), value)))
        .collect::<Option<Vec<_>>>()?;
    Some(crate::randomization::stratum_key(factors))
}

/// The trial as it stands in the database, read under the chain-head lock: its status and the
/// protocol in force.
pub(crate) struct InForce<'a> {
    pub protocol: Cow<'a, Protocol>,
    pub version: i32,
    pub status: TrialStatus,
}

/// Reads [`InForce`]. The server's cached protocol is used when it is the version in force;
/// when another server amended the trial since, the stored one is parsed and used.
pub(crate) fn in_force<'a, E>(
    c: &mut DbConnection,
    trial: &'a TrialRuntime,
) -> Result<InForce<'a>, E>
where
    E: From<StorageError> + From<NotFound> + From<Internal>,
{
    let trial_id = trial.protocol.id.as_str();
    let row = repo::trials::get(c, trial_id)?.ok_or_else(|| NotFound::trial(trial_id))?;
    let protocol = if row.protocol_version == trial.version {
        Cow::Borrowed(&trial.protocol)
    } else {
        Cow::Owned(
            Protocol::from_canonical_json(&row.protocol_json, trial_id)
                .map_err(|e| Internal::caused(format!("stored protocol of {trial_id}"), e))?,
        )
    };
    Ok(InForce {
        protocol,
        version: row.protocol_version,
        status: row.status,
    })
}

/// Refuses a write in a closed trial. Call with the chain head locked.
pub(crate) fn ensure_open<E>(c: &mut DbConnection, trial_id: &str) -> Result<(), E>
where
    E: From<StorageError> + From<NotFound> + From<TrialClosed>,
{
    let trial = repo::trials::get(c, trial_id)?.ok_or_else(|| NotFound::trial(trial_id))?;
    if trial.status == TrialStatus::Closed {
        return Err(TrialClosed(trial_id.to_string()).into());
    }
    Ok(())
}
