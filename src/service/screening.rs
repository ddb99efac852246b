//! Screening a patient: validate, evaluate, record with its audit entry.

use std::borrow::Cow;

use serde_json::json;

use super::{format_time, now, TrialRuntime};
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
    let input = raw.validate(today, protocol).map_err(Invalid)?;
    // A stratified trial cannot place a patient whose factor is unknown.
    let missing_factors: Vec<FieldError> = protocol
        .stratification
        .iter()
        .filter(|f| input.factor_value(**f).is_none())
        .map(|f| {
            FieldError::new(
                f.name(),
                "is required: the trial is stratified by this factor",
            )
        })
        .collect();
    if !missing_factors.is_empty() {
        return Err(Invalid(missing_factors));
    }
    let evaluation = evaluate(protocol, &input);
    Ok((input, evaluation))
}

#[tracing::instrument(name = "screen", skip_all, fields(trial = %trial.protocol.id, user = %user.name))]
pub fn record(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    raw: &RawScreening,
) -> Result<ScreeningView, ScreeningError> {
    user.require_permission(Permission::Screen)?;
    let at = now();
    // Evaluated before taking the lock; again inside it only if another server has amended
    // the protocol since this one cached it.
    let evaluated = evaluate_request(&trial.protocol, raw, at.date())?;
    let input = &evaluated.0;
    user.require_site(&input.site)?;
    let trial_id = trial.protocol.id.as_str();
    let id = uuid::Uuid::now_v7().to_string();
    let submitted =
        serde_json::to_value(raw).map_err(|e| Internal::caused("encoding the screening", e))?;
    let (input, evaluation, version) = storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        let current = in_force::<ScreeningError>(c, trial)?;
        let (input, evaluation) = if current.version == trial.version {
            evaluated
        } else {
            evaluate_request(&current.protocol, raw, at.date())?
        };
        if current.status == TrialStatus::Closed {
            return Err(TrialClosed(trial_id.to_string()).into());
        }
        let stratum = stratum_key_of(&current.protocol, &input);
        let result_json = serde_json::to_string(&evaluation)
            .map_err(|e| Internal::caused("encoding the evaluation", e))?;
        let entry = storage::append_audit(
            c,
            &mut head,
            at,
            &user.name,
            Some(user.role),
            Action::ScreeningRecorded,
            json!({
                "screening_id": id,
                "patient_ref": input.patient_ref,
                "site": input.site,
                "screening_date": input.screening_date.to_string(),
                "input": submitted,
                "outcome": evaluation.outcome,
                "missing": evaluation.missing,
                "criteria": evaluation.criteria,
                "stratum_key": stratum,
                "protocol_version": current.version,
            }),
        )?;
        repo::screenings::insert(
            c,
            &repo::screenings::NewScreening {
                id: &id,
                trial_id,
                patient_ref: &input.patient_ref,
                site: &input.site,
                outcome: evaluation.outcome,
                input_json: &submitted.to_string(),
                result_json: &result_json,
                screening_date: input.screening_date,
                screened_at: at,
                screened_by: &user.name,
                audit_seq: entry.seq,
                stratum_key: stratum.as_deref(),
                protocol_version: current.version,
            },
        )?;
        Ok::<_, ScreeningError>((input, evaluation, current.version))
    })?;
    Ok(ScreeningView {
        id,
        trial: trial_id.to_string(),
        patient_ref: input.patient_ref.into(),
        site: input.site,
        outcome: evaluation.outcome,
        criteria: evaluation.criteria,
        missing: evaluation.missing,
        screening_date: input.screening_date.to_string(),
        screened_at: format_time(at),
        screened_by: user.name.clone(),
        latest: true,
        subject_id: None,
        protocol_version: version,
    })
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
