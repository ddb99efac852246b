use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::protocol::SubjectStatus;
pub use crate::storage::models::NewSubject;
use crate::storage::models::Subject;
use crate::storage::schema::subjects;
use crate::storage::{DbConnection, StorageError};

pub fn insert(c: &mut DbConnection, row: &NewSubject<'_>) -> Result<Subject, StorageError> {
    diesel::insert_into(subjects::table)
        .values(row)
        .execute(c)?;
    // What was inserted, without reading it back (one round trip fewer under the lock).
    Ok(Subject {
        id: row.id.to_string(),
        trial_id: row.trial_id.to_string(),
        sequence: row.sequence,
        screening_id: row.screening_id.to_string(),
        patient_ref: row.patient_ref.to_string(),
        site: row.site.to_string(),
        stratum_key: row.stratum_key.to_string(),
        stratum_position: row.stratum_position,
        arm: row.arm.to_string(),
        randomized_at: row.randomized_at,
        randomized_by: row.randomized_by.to_string(),
        status: row.status,
        withdrawn_at: row.withdrawn_at,
        withdrawn_by: row.withdrawn_by.map(str::to_string),
        withdrawal_reason: row.withdrawal_reason.map(str::to_string),
        audit_seq: row.audit_seq,
        idempotency_key: row.idempotency_key.map(str::to_string),
        request_fingerprint: row.request_fingerprint.map(str::to_string),
        randomization_signature: row.randomization_signature.map(str::to_string),
        withdrawal_signature: None,
    })
}

pub fn get(
    c: &mut DbConnection,
    trial_id: &str,
    id: &str,
) -> Result<Option<Subject>, StorageError> {
    Ok(subjects::table
        .filter(subjects::trial_id.eq(trial_id))
        .filter(subjects::id.eq(id))
        .select(Subject::as_select())
        .first(c)
        .optional()?)
}

/// The subject of a patient (trial, site, patient_ref), once randomized.
pub fn for_patient(
    c: &mut DbConnection,
    trial_id: &str,
    site: &str,
    patient_ref: &str,
) -> Result<Option<Subject>, StorageError> {
    Ok(subjects::table
        .filter(subjects::trial_id.eq(trial_id))
        .filter(subjects::site.eq(site))
        .filter(subjects::patient_ref.eq(patient_ref))
        .select(Subject::as_select())
        .first(c)
        .optional()?)
}

pub fn by_idempotency_key(
    c: &mut DbConnection,
    user: &str,
    key: &str,
) -> Result<Option<Subject>, StorageError> {
    Ok(subjects::table
        .filter(subjects::randomized_by.eq(user))
        .filter(subjects::idempotency_key.eq(key))
        .select(Subject::as_select())
        .first(c)
        .optional()?)
}

pub fn count(c: &mut DbConnection, trial_id: &str) -> Result<i64, StorageError> {
    Ok(subjects::table
        .filter(subjects::trial_id.eq(trial_id))
        .count()
        .get_result(c)?)
}

pub fn count_by_trial(c: &mut DbConnection) -> Result<HashMap<String, i64>, StorageError> {
    let rows: Vec<(String, i64)> = subjects::table
        .group_by(subjects::trial_id)
        .select((subjects::trial_id, diesel::dsl::count_star()))
        .load(c)?;
    Ok(rows.into_iter().collect())
}

pub fn count_in_stratum(
    c: &mut DbConnection,
    trial_id: &str,
    stratum_key: &str,
) -> Result<i64, StorageError> {
    Ok(subjects::table
        .filter(subjects::trial_id.eq(trial_id))
        .filter(subjects::stratum_key.eq(stratum_key))
        .count()
        .get_result(c)?)
}

/// All subjects of a trial in sequence order.
pub fn list(c: &mut DbConnection, trial_id: &str) -> Result<Vec<Subject>, StorageError> {
    Ok(subjects::table
        .filter(subjects::trial_id.eq(trial_id))
        .order(subjects::sequence.asc())
        .select(Subject::as_select())
        .load(c)?)
}

pub fn withdraw(
    c: &mut DbConnection,
    trial_id: &str,
    id: &str,
    at: NaiveDateTime,
    by: &str,
    reason: &str,
    signature: Option<&str>,
) -> Result<(), StorageError> {
    diesel::update(
        subjects::table
            .filter(subjects::trial_id.eq(trial_id))
            .filter(subjects::id.eq(id)),
    )
    .set((
        subjects::status.eq(SubjectStatus::Withdrawn),
        subjects::withdrawn_at.eq(Some(at)),
        subjects::withdrawn_by.eq(Some(by)),
        subjects::withdrawal_reason.eq(Some(reason)),
        subjects::withdrawal_signature.eq(signature),
    ))
    .execute(c)?;
    Ok(())
}
