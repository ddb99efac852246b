use diesel::prelude::*;

use crate::protocol::CorrectionStatus;
pub use crate::storage::models::NewScreening;
use crate::storage::models::{CorrectionDecision, Screening};
use crate::storage::schema::{correction_decisions, screenings};
use crate::storage::{DbConnection, StorageError};

pub fn insert(c: &mut DbConnection, row: &NewScreening<'_>) -> Result<(), StorageError> {
    diesel::insert_into(screenings::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

pub fn get(
    c: &mut DbConnection,
    trial_id: &str,
    id: &str,
) -> Result<Option<Screening>, StorageError> {
    Ok(screenings::table
        .filter(screenings::trial_id.eq(trial_id))
        .filter(screenings::id.eq(id))
        .select(Screening::as_select())
        .first(c)
        .optional()?)
}

/// The patient's latest screening in effect: the last submitted (highest audit seq), whatever
/// its screening date, that is not a correction still pending or rejected. A patient is
/// (trial, site, patient_ref).
pub fn latest_id(
    c: &mut DbConnection,
    trial_id: &str,
    site: &str,
    patient_ref: &str,
) -> Result<Option<String>, StorageError> {
    let approved = correction_decisions::table
        .filter(correction_decisions::trial_id.eq(trial_id))
        .filter(correction_decisions::decision.eq(CorrectionStatus::Approved))
        .select(correction_decisions::screening_id);
    Ok(screenings::table
        .filter(screenings::trial_id.eq(trial_id))
        .filter(screenings::site.eq(site))
        .filter(screenings::patient_ref.eq(patient_ref))
        .filter(
            screenings::correction_status
                .is_null()
                .or(screenings::correction_status.eq(CorrectionStatus::Applied))
                .or(screenings::id.eq_any(approved)),
        )
        .order(screenings::audit_seq.desc())
        .select(screenings::id)
        .first(c)
        .optional()?)
}

/// The patient's correction waiting for a monitor, if any.
pub fn pending_for_patient(
    c: &mut DbConnection,
    trial_id: &str,
    site: &str,
    patient_ref: &str,
) -> Result<Option<String>, StorageError> {
    let decided = correction_decisions::table
        .filter(correction_decisions::trial_id.eq(trial_id))
        .select(correction_decisions::screening_id);
    Ok(screenings::table
        .filter(screenings::trial_id.eq(trial_id))
        .filter(screenings::site.eq(site))
        .filter(screenings::patient_ref.eq(patient_ref))
        .filter(screenings::correction_status.eq(CorrectionStatus::Pending))
        .filter(screenings::id.ne_all(decided))
        .select(screenings::id)
        .first(c)
        .optional()?)
}

/// Every correction recorded as pending, oldest first, with its decision once there is one.
pub fn pending_corrections(
    c: &mut DbConnection,
    trial_id: &str,
) -> Result<Vec<(Screening, Option<CorrectionDecision>)>, StorageError> {
    Ok(screenings::table
        .left_join(correction_decisions::table)
        .filter(screenings::trial_id.eq(trial_id))
        .filter(screenings::correction_status.eq(CorrectionStatus::Pending))
        .order(screenings::audit_seq.asc())
        .select((
            Screening::as_select(),
            Option::<CorrectionDecision>::as_select(),
        ))
        .load(c)?)
}

/// The screening an earlier request of `user` with this idempotency key recorded.
pub fn by_idempotency_key(
    c: &mut DbConnection,
    trial_id: &str,
    user: &str,
    key: &str,
) -> Result<Option<Screening>, StorageError> {
    Ok(screenings::table
        .filter(screenings::trial_id.eq(trial_id))
        .filter(screenings::screened_by.eq(user))
        .filter(screenings::idempotency_key.eq(key))
        .select(Screening::as_select())
        .first(c)
        .optional()?)
}

/// Each patient's latest screening in effect (as [`latest_id`]), newest first.
pub fn latest_per_patient(
    c: &mut DbConnection,
    trial_id: &str,
) -> Result<Vec<Screening>, StorageError> {
    let rows = list_all(c, trial_id)?;
    let approved: std::collections::HashSet<String> = correction_decisions::table
        .filter(correction_decisions::trial_id.eq(trial_id))
        .filter(correction_decisions::decision.eq(CorrectionStatus::Approved))
        .select(correction_decisions::screening_id)
        .load::<String>(c)?
        .into_iter()
        .collect();
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .rev()
        .filter(|s| match s.correction_status {
            None | Some(CorrectionStatus::Applied) => true,
            Some(_) => approved.contains(&s.id),
        })
        .filter(|s| seen.insert((s.site.clone(), s.patient_ref.clone())))
        .collect())
}

/// Every screening of the trial in submission order.
pub fn list_all(c: &mut DbConnection, trial_id: &str) -> Result<Vec<Screening>, StorageError> {
    Ok(screenings::table
        .filter(screenings::trial_id.eq(trial_id))
        .order(screenings::audit_seq.asc())
        .select(Screening::as_select())
        .load(c)?)
}
