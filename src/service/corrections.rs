//! Correcting a screening, a monitor's decision on a correction of a randomized patient, and
//! the deviations an approved correction reveals.
//!
//! A correction is a new screening that names the one it corrects; nothing is overwritten.
//! Before randomization it simply becomes the patient's screening. After, the subject keeps
//! arm and stratum (intention to treat) and the correction waits for a second person, a
//! monitor, who approves or rejects it; an approved one that makes the patient ineligible,
//! or places them in another stratum, records a deviation.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::screening::{evaluate_request, in_force, stored_row, CorrectionOf, Stored};
use super::{format_time, now, TrialRuntime};
use crate::access::{Permission, User};
use crate::audit::signature::{Meaning, Signature};
use crate::audit::Action;
use crate::eligibility::{FieldError, Outcome, RawScreening};
use crate::fields::InputError;
use crate::protocol::{CorrectionStatus, Decision, DeviationKind};
use crate::service::error::{impossible_id, Internal, Invalid, NotFound, TrialClosed};
use crate::service::screening::ScreeningError;
use crate::service::signatures::Signer;
use crate::service::views::ScreeningView;
use crate::storage::{self, models, repo, DbConnection, StorageError};

/// Why a correction or a decision was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    #[error(transparent)]
    Denied(#[from] crate::access::AccessDenied),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    TrialClosed(#[from] TrialClosed),
    #[error("screening {0} is not the patient's latest screening: correct the latest one")]
    StaleScreening(String),
    #[error("correction {0} of this patient is waiting for a monitor's decision")]
    CorrectionPending(String),
    #[error("screening {0} is not a correction waiting for a decision")]
    NotPending(String),
    #[error("correction {0} was made by you: another person must decide on it")]
    OwnCorrection(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<diesel::result::Error> for CorrectionError {
    fn from(e: diesel::result::Error) -> Self {
        CorrectionError::Storage(e.into())
    }
}

impl From<ScreeningError> for CorrectionError {
    fn from(e: ScreeningError) -> Self {
        match e {
            ScreeningError::Denied(e) => e.into(),
            ScreeningError::NotFound(e) => e.into(),
            ScreeningError::Invalid(e) => e.into(),
            ScreeningError::TrialClosed(e) => e.into(),
            ScreeningError::Storage(e) => e.into(),
            ScreeningError::Internal(e) => e.into(),
            other => Internal::new(other.to_string()).into(),
        }
    }
}

/// Fields a correction may not change: they say who the patient is.
const FIXED_FIELDS: [&str; 2] = ["patient_ref", "site"];
/// Fields whose keys a correction replaces one by one, keeping the others.
const MERGED_FIELDS: [&str; 2] = ["labs", "attestations"];

/// POST …/screenings/{id}/corrections.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// Why the screening is corrected (1–1000 characters), e.g. "Hb transcribed in g/L, the
    /// report says g/dL".
    pub reason: String,
    /// Screening request fields to replace, same shape and rules. Inside `labs` and
    /// `attestations` the named keys are replaced (null removes one) and the others kept.
    /// `patient_ref` and `site` cannot be changed.
    #[schema(value_type = Object, example = json!({"labs": {"hemoglobin": {"value": 11.2, "unit": "g/dL"}}}))]
    pub changes: Map<String, Value>,
}

impl crate::fields::JsonRequest for CorrectionRequest {
    const ARRAY_FIELDS: &'static [&'static str] = &["changes.confirm_implausible"];
}

/// POST …/corrections/{id}/approval.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    /// Why (1–1000 characters).
    pub reason: String,
}

impl crate::fields::JsonRequest for DecisionRequest {}

/// One field a correction changed, with its value before and after (`null`: not given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    #[schema(example = "labs.hemoglobin")]
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// A correction as the monitor's approvals queue shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CorrectionView {
    /// The correcting screening (its `corrects` names the corrected one).
    pub screening: ScreeningView,
    pub reason: String,
    pub changes: Vec<FieldChange>,
    /// The corrected screening's outcome, next to the new one.
    pub previous_outcome: Outcome,
    pub subject_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
}

/// GET …/deviations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviationView {
    pub id: String,
    pub subject_id: String,
    pub kind: DeviationKind,
    /// The approved correction that revealed it.
    pub screening_id: String,
    pub recorded_at: String,
}

impl From<models::Deviation> for DeviationView {
    fn from(d: models::Deviation) -> Self {
        DeviationView {
            id: d.id,
            subject_id: d.subject_id,
            kind: d.kind,
            screening_id: d.screening_id,
            recorded_at: format_time(d.recorded_at),
        }
    }
}

fn checked_reason(reason: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    crate::text::check_reason(reason, crate::text::MAX_REASON_CHARS)
        .map_err(|message| errors.push(FieldError::new("reason", message)))
        .ok()
}

/// Corrects screening `screening_id` (the patient's latest): a new screening with the
/// request's changes applied to what was submitted, evaluated under the protocol in force.
#[tracing::instrument(name = "correct", skip_all, fields(trial = %trial.protocol.id, user = %user.name, screening = %screening_id))]
pub fn correct(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    screening_id: &str,
    request: &CorrectionRequest,
) -> Result<ScreeningView, CorrectionError> {
    user.require_permission(Permission::Correct)?;
    if impossible_id(screening_id) {
        return Err(NotFound::screening(screening_id).into());
    }
    let mut errors = Vec::new();
    let reason = checked_reason(&request.reason, &mut errors);
    for field in FIXED_FIELDS {
        if request.changes.contains_key(field) {
            errors.push(FieldError::new(
                format!("changes.{field}"),
                "cannot be corrected: it says who the patient is (screen the right patient instead)",
            ));
        }
    }
    if request.changes.is_empty() {
        errors.push(FieldError::new("changes", "must name at least one field"));
    }
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let reason = reason.unwrap_or_default();
    let trial_id = trial.protocol.id.as_str();
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        let current = in_force::<CorrectionError>(c, trial)?;
        let old = repo::screenings::get(c, trial_id, screening_id)?
            .ok_or_else(|| NotFound::screening(screening_id))?;
        user.require_site(&old.site)?;
        if let Some(pending) =
            repo::screenings::pending_for_patient(c, trial_id, &old.site, &old.patient_ref)?
        {
            return Err(CorrectionError::CorrectionPending(pending));
        }
        let latest = repo::screenings::latest_id(c, trial_id, &old.site, &old.patient_ref)?;
        if latest.as_deref() != Some(old.id.as_str()) {
            return Err(CorrectionError::StaleScreening(old.id));
        }
        let before: Value = serde_json::from_str(&old.input_json)
            .map_err(|e| Internal::caused(format!("stored screening {}", old.id), e))?;
        let before = merged(&before, &Map::new(), old.screening_date);
        let after = merged(&before, &request.changes, old.screening_date);
        let changes = changed_fields(&before, &after);
        if changes.is_empty() {
            return Err(Invalid::field("changes", "changes nothing in the screening").into());
        }
        let document = after.to_string();
        let raw: RawScreening =
            crate::fields::parse_json(document.as_bytes()).map_err(|e| match e {
                InputError::Invalid(errors) => Invalid(in_changes(errors)).into(),
                InputError::Malformed(m) => CorrectionError::from(Invalid::field("changes", m)),
            })?;
        let (input, evaluation) = evaluate_request(&current.protocol, &raw, at.date())
            .map_err(|Invalid(errors)| Invalid(in_changes(errors)))?;
        let subject = repo::subjects::for_patient(c, trial_id, &old.site, &old.patient_ref)?;
        let status = if subject.is_some() {
            CorrectionStatus::Pending
        } else {
            CorrectionStatus::Applied
        };
        let submitted = serde_json::to_value(&raw)
            .map_err(|e| Internal::caused("encoding the screening", e))?;
        let mut extra = Map::new();
        extra.insert("changes".into(), json!(changes));
        if let Some(s) = &subject {
            extra.insert("subject_id".into(), s.id.clone().into());
        }
        let row = stored_row(
            c,
            &mut head,
            user,
            Action::ScreeningCorrected,
            Stored {
                trial_id,
                at,
                protocol: &current.protocol,
                version: current.version,
                input: &input,
                evaluation: &evaluation,
                submitted: &submitted,
                input_json: submitted.to_string(),
                correction: Some(CorrectionOf {
                    corrects: &old.id,
                    status,
                    reason: &reason,
                }),
                idempotency_key: None,
                request_fingerprint: None,
            },
            extra,
        )?;
        let latest = status == CorrectionStatus::Applied;
        Ok(ScreeningView::from_row(
            &row,
            latest,
            subject.map(|s| s.id),
            None,
        )?)
    })
}

/// Corrects screening `screening_id` to `full`, a whole screening as the web form sends it:
/// the changes are what differs from the screening as submitted (patient and site are the
/// corrected screening's).
pub fn correct_to(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    screening_id: &str,
    reason: &str,
    full: &RawScreening,
) -> Result<ScreeningView, CorrectionError> {
    user.require_permission(Permission::Correct)?;
    if impossible_id(screening_id) {
        return Err(NotFound::screening(screening_id).into());
    }
    let trial_id = trial.protocol.id.as_str();
    // A screening row never changes: reading it outside the correction's transaction is safe.
    let old = repo::screenings::get(conn, trial_id, screening_id)?
        .ok_or_else(|| NotFound::screening(screening_id))?;
    user.require_site(&old.site)?;
    let stored: Value = serde_json::from_str(&old.input_json)
        .map_err(|e| Internal::caused(format!("stored screening {}", old.id), e))?;
    let before = merged(&stored, &Map::new(), old.screening_date);
    let mut after =
        serde_json::to_value(full).map_err(|e| Internal::caused("encoding the screening", e))?;
    if let Some(map) = after.as_object_mut() {
        for field in FIXED_FIELDS {
            map.insert(
                field.into(),
                before.get(field).cloned().unwrap_or(Value::Null),
            );
        }
    }
    let after = merged(&after, &Map::new(), old.screening_date);
    let request = CorrectionRequest {
        reason: reason.to_string(),
        changes: changes_between(&before, &after),
    };
    correct(conn, trial, user, screening_id, &request)
}

/// The `changes` that turn `before` into `after` (both submitted screenings).
pub fn changes_between(before: &Value, after: &Value) -> Map<String, Value> {
    let mut changes = Map::new();
    for change in changed_fields(before, after) {
        match change.field.split_once('.') {
            Some((parent, key)) => {
                let entry = changes
                    .entry(parent.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(map) = entry.as_object_mut() {
                    map.insert(key.to_string(), change.new);
                }
            }
            None => {
                changes.insert(change.field, change.new);
            }
        }
    }
    changes
}

/// A monitor approves or rejects the pending correction `correction_id`. Approval records the
/// deviations it reveals; the subject keeps arm and stratum either way.
#[tracing::instrument(name = "decide_correction", skip_all, fields(trial = %trial.protocol.id, user = %user.name, correction = %correction_id))]
pub fn decide(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    correction_id: &str,
    request: &DecisionRequest,
    signer: Option<&Signer>,
) -> Result<ScreeningView, CorrectionError> {
    user.require_permission(Permission::ReviewCorrections)?;
    if impossible_id(correction_id) {
        return Err(NotFound::screening(correction_id).into());
    }
    let mut errors = Vec::new();
    let reason = checked_reason(&request.reason, &mut errors).unwrap_or_default();
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let trial_id = trial.protocol.id.as_str();
    let at = now();
    let status = request.decision.status();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        let row = repo::screenings::get(c, trial_id, correction_id)?
            .ok_or_else(|| NotFound::screening(correction_id))?;
        user.require_site(&row.site)?;
        if row.correction_status != Some(CorrectionStatus::Pending)
            || repo::corrections::decision(c, &row.id)?.is_some()
        {
            return Err(CorrectionError::NotPending(row.id));
        }
        if row.screened_by == user.name {
            return Err(CorrectionError::OwnCorrection(row.id));
        }
        let subject = repo::subjects::for_patient(c, trial_id, &row.site, &row.patient_ref)?
            .ok_or_else(|| {
                Internal::new(format!("pending correction {} without a subject", row.id))
            })?;
        let mut found = Vec::new();
        if status == CorrectionStatus::Approved {
            if row.outcome != Outcome::Eligible {
                found.push(DeviationKind::IneligibleRandomized);
            }
            if row.stratum_key.as_deref() != Some(subject.stratum_key.as_str()) {
                found.push(DeviationKind::Misstratified);
            }
        }
        let action = match request.decision {
            Decision::Approve => Action::CorrectionApproved,
            Decision::Reject => Action::CorrectionRejected,
        };
        let signature = signer.map(|s| {
            let patient_ref = row.patient_ref.clone();
            let meaning = match request.decision {
                Decision::Approve => Meaning::ApproveCorrection { patient_ref },
                Decision::Reject => Meaning::RejectCorrection { patient_ref },
            };
            s.sign(&meaning, at)
        });
        let mut data = json!({
            "screening_id": row.id,
            "corrects": row.corrects,
            "subject_id": subject.id,
            "reason": reason,
            "deviations": found,
        });
        if let Some(sig) = &signature {
            data["signature"] = json!(sig);
        }
        let entry =
            storage::append_audit(c, &mut head, at, &user.name, Some(user.role), action, data)?;
        repo::corrections::insert_decision(
            c,
            &models::CorrectionDecision {
                screening_id: row.id.clone(),
                trial_id: trial_id.to_string(),
                decision: status,
                reason: reason.clone(),
                decided_by: user.name.clone(),
                decided_at: at,
                audit_seq: entry.seq,
                signature: signature.as_ref().map(Signature::to_json),
            },
        )?;
        for kind in found {
            let id = uuid::Uuid::now_v7().to_string();
            let entry = storage::append_audit(
                c,
                &mut head,
                at,
                &user.name,
                Some(user.role),
                Action::DeviationRecorded,
                json!({
                    "deviation_id": id,
                    "subject_id": subject.id,
                    "kind": kind,
                    "screening_id": row.id,
                }),
            )?;
            repo::corrections::insert_deviation(
                c,
                &models::Deviation {
                    id,
                    trial_id: trial_id.to_string(),
                    subject_id: subject.id.clone(),
                    kind,
                    screening_id: row.id.clone(),
                    recorded_at: at,
                    audit_seq: entry.seq,
                },
            )?;
        }
        let latest = status == CorrectionStatus::Approved;
        Ok(ScreeningView::from_row(
            &row,
            latest,
            Some(subject.id),
            Some(status),
        )?)
    })
}

/// The corrections of randomized patients, oldest first: those waiting for a decision, or
/// (with `decided`) all of them. Only the user's sites.
pub fn list_corrections(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    decided: bool,
) -> Result<Vec<CorrectionView>, crate::service::queries::QueryError> {
    user.require_permission(Permission::ReviewCorrections)?;
    let trial_id = trial.protocol.id.as_str();
    let mut out = Vec::new();
    for (row, decision) in repo::screenings::pending_corrections(conn, trial_id)? {
        if !user.may_access_site(&row.site) || (decision.is_some() && !decided) {
            continue;
        }
        let Some(corrected_id) = row.corrects.as_deref() else {
            continue;
        };
        let corrected = repo::screenings::get(conn, trial_id, corrected_id)?
            .ok_or_else(|| Internal::new(format!("corrected screening {corrected_id}")))?;
        let parse = |s: &models::Screening| -> Result<Value, Internal> {
            serde_json::from_str(&s.input_json)
                .map(|v| merged(&v, &Map::new(), s.screening_date))
                .map_err(|e| Internal::caused(format!("stored screening {}", s.id), e))
        };
        let changes = changed_fields(&parse(&corrected)?, &parse(&row)?);
        let subject_id =
            repo::subjects::for_patient(conn, trial_id, &row.site, &row.patient_ref)?.map(|s| s.id);
        let latest = decision
            .as_ref()
            .is_some_and(|d| d.decision == CorrectionStatus::Approved)
            && repo::screenings::latest_id(conn, trial_id, &row.site, &row.patient_ref)?.as_deref()
                == Some(row.id.as_str());
        out.push(CorrectionView {
            screening: ScreeningView::from_row(
                &row,
                latest,
                subject_id.clone(),
                decision.as_ref().map(|d| d.decision),
            )?,
            reason: row.correction_reason.clone().unwrap_or_default(),
            changes,
            previous_outcome: corrected.outcome,
            subject_id,
            decided_by: decision.as_ref().map(|d| d.decided_by.clone()),
            decided_at: decision.as_ref().map(|d| format_time(d.decided_at)),
            decision_reason: decision.map(|d| d.reason),
        });
    }
    Ok(out)
}

/// The trial's deviations, in the order they were recorded (monitor; a site-limited one: of
/// their sites' subjects).
pub fn list_deviations(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<Vec<DeviationView>, crate::service::queries::QueryError> {
    user.require_permission(Permission::Monitor)?;
    let trial_id = &trial.protocol.id;
    let deviations = repo::corrections::deviations(conn, trial_id)?;
    if !user.is_site_limited() {
        return Ok(deviations.into_iter().map(DeviationView::from).collect());
    }
    // A site-limited monitor: the deviations of their sites' subjects.
    let ours: std::collections::BTreeSet<String> = repo::subjects::list(conn, trial_id)?
        .into_iter()
        .filter(|s| user.may_access_site(&s.site))
        .map(|s| s.id)
        .collect();
    Ok(deviations
        .into_iter()
        .filter(|d| ours.contains(&d.subject_id))
        .map(DeviationView::from)
        .collect())
}

/// Field errors of the corrected screening, named as fields of `changes`.
fn in_changes(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| {
            let field = if e.field.is_empty() {
                "changes".to_string()
            } else {
                format!("changes.{}", e.field)
            };
            FieldError::new(field, e.message)
        })
        .collect()
}

/// The submitted screening with `changes` applied: top-level fields replaced; inside `labs`
/// and `attestations` the named keys replaced (null removes one). The screening date is kept
/// as it was (a screening that left it out was dated the day it was recorded).
pub fn merged(
    before: &Value,
    changes: &Map<String, Value>,
    screening_date: chrono::NaiveDate,
) -> Value {
    let mut after = before.as_object().cloned().unwrap_or_default();
    for (key, value) in changes {
        match (MERGED_FIELDS.contains(&key.as_str()), value) {
            (true, Value::Object(parts)) => {
                let mut kept = after
                    .get(key)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (part, v) in parts {
                    if v.is_null() {
                        kept.remove(part);
                    } else {
                        kept.insert(part.clone(), v.clone());
                    }
                }
                after.insert(key.clone(), Value::Object(kept));
            }
            _ => {
                after.insert(key.clone(), value.clone());
            }
        }
    }
    if after.get("screening_date").is_none_or(Value::is_null) {
        after.insert("screening_date".into(), screening_date.to_string().into());
    }
    Value::Object(after)
}

/// The fields that differ between two submitted screenings, `labs` and `attestations` key by
/// key; an absent field and `null` are the same.
pub fn changed_fields(before: &Value, after: &Value) -> Vec<FieldChange> {
    fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
        v.get(key).unwrap_or(&Value::Null)
    }
    let mut keys: Vec<&String> = before
        .as_object()
        .into_iter()
        .chain(after.as_object())
        .flat_map(|m| m.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let (old, new) = (get(before, key), get(after, key));
        if MERGED_FIELDS.contains(&key.as_str()) {
            let empty = Map::new();
            let (o, n) = (
                old.as_object().unwrap_or(&empty),
                new.as_object().unwrap_or(&empty),
            );
            let mut parts: Vec<&String> = o.keys().chain(n.keys()).collect();
            parts.sort();
            parts.dedup();
            for part in parts {
                let (ov, nv) = (
                    o.get(part).unwrap_or(&Value::Null),
                    n.get(part).unwrap_or(&Value::Null),
                );
                if ov != nv {
                    out.push(FieldChange {
                        field: format!("{key}.{part}"),
                        old: ov.clone(),
                        new: nv.clone(),
                    });
                }
            }
        } else if old != new {
            out.push(FieldChange {
                field: key.clone(),
                old: old.clone(),
                new: new.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default()
    }

    #[test]
    fn changes_replace_top_level_fields_and_merge_labs_key_by_key() {
        let before = json!({
            "patient_ref": "A-1", "site": "S1", "birth_date": "1960-01-01",
            "labs": {"hemoglobin": {"value": 11.2, "unit": "g/L"}, "anc": {"value": 2, "unit": "10^9/L"}},
            "attestations": {"informed_consent": true}
        });
        let changes = json!({
            "birth_date": "1961-01-01",
            "labs": {"hemoglobin": {"value": 11.2, "unit": "g/dL"}, "anc": null},
        });
        let empty = Map::new();
        let after = merged(&before, changes.as_object().unwrap_or(&empty), date());
        assert_eq!(after["labs"]["hemoglobin"]["unit"], "g/dL");
        assert!(after["labs"].get("anc").is_none());
        assert_eq!(after["attestations"]["informed_consent"], true);
        assert_eq!(after["screening_date"], "2026-11-20");
        let before = merged(&before, &empty, date());
        let fields: Vec<String> = changed_fields(&before, &after)
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(fields, ["birth_date", "labs.anc", "labs.hemoglobin"]);
    }

    #[test]
    fn changes_between_round_trips_through_merged() {
        let before = json!({
            "patient_ref": "A-1", "site": "S1", "sex": "female",
            "labs": {"hemoglobin": {"value": 11.2, "unit": "g/L"}, "anc": {"value": 2, "unit": "10^9/L"}},
        });
        let after = json!({
            "patient_ref": "A-1", "site": "S1", "sex": "male",
            "labs": {"hemoglobin": {"value": 11.2, "unit": "g/dL"}},
        });
        let changes = changes_between(&before, &after);
        assert_eq!(
            Value::Object(changes.clone()),
            json!({"sex": "male", "labs": {"hemoglobin": {"value": 11.2, "unit": "g/dL"}, "anc": null}})
        );
        let rebuilt = merged(&before, &changes, date());
        assert!(changed_fields(&rebuilt, &merged(&after, &Map::new(), date())).is_empty());
    }

    #[test]
    fn null_and_absent_are_the_same() {
        let before = json!({"sex": null, "labs": {}});
        let after = json!({"labs": {"anc": null}});
        assert!(changed_fields(&before, &after).is_empty());
    }
}
