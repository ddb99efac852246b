//! Screening a patient: validate, evaluate, record with its audit entry.

use serde_json::json;

use super::{format_time, now, TrialRuntime};
use crate::access::{Permission, User};
use crate::audit::Action;
use crate::eligibility::{evaluate, Evaluation, FieldError, InputError, RawScreening};
use crate::error::AppError;
use crate::protocol::TrialStatus;
use crate::service::views::ScreeningView;
use crate::storage::{self, repo, DbConnection};

/// Parses and evaluates a screening request without touching the database.
pub fn evaluate_request(
    trial: &TrialRuntime,
    body: &[u8],
    today: chrono::NaiveDate,
) -> Result<(RawScreening, crate::eligibility::ScreeningInput, Evaluation), AppError> {
    let raw = RawScreening::from_json(body).map_err(|e| match e {
        InputError::Malformed(m) => AppError::Malformed(m),
        InputError::Invalid(errors) => AppError::Validation(errors),
    })?;
    let input = raw
        .validate(today, &trial.protocol)
        .map_err(AppError::Validation)?;
    // A stratified trial cannot place a patient whose factor is unknown.
    let missing_factors: Vec<FieldError> = trial
        .protocol
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
        return Err(AppError::Validation(missing_factors));
    }
    let evaluation = evaluate(&trial.protocol, &input);
    Ok((raw, input, evaluation))
}

#[tracing::instrument(name = "screen", skip_all, fields(trial = %trial.protocol.id, user = %user.name))]
pub fn record(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    body: &[u8],
) -> Result<ScreeningView, AppError> {
    user.require_permission(Permission::Screen)?;
    let at = now();
    let (raw, input, evaluation) = evaluate_request(trial, body, at.date())?;
    user.require_site(&input.site)?;
    let trial_id = trial.protocol.id.as_str();
    let id = uuid::Uuid::now_v7().to_string();
    let submitted = serde_json::to_value(&raw).map_err(|e| AppError::Internal(e.to_string()))?;
    let result_json =
        serde_json::to_string(&evaluation).map_err(|e| AppError::Internal(e.to_string()))?;
    storage::write_transaction(conn, |c| {
        storage::lock_chain_head(c, trial_id)?;
        ensure_open(c, trial_id)?;
        let entry = storage::append_audit(
            c,
            trial_id,
            at,
            &user.name,
            user.role.as_str(),
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
            },
        )?;
        Ok::<_, AppError>(())
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
    })
}

/// Refuses a write in a closed trial. Call with the chain head locked.
pub(crate) fn ensure_open(c: &mut DbConnection, trial_id: &str) -> Result<(), AppError> {
    let trial = repo::trials::get(c, trial_id)?
        .ok_or_else(|| AppError::NotFound(format!("no trial {trial_id:?}")))?;
    if trial.status == TrialStatus::Closed {
        return Err(AppError::TrialClosed(trial_id.to_string()));
    }
    Ok(())
}
