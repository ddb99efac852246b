use diesel::prelude::*;

pub use crate::storage::models::NewScreening;
use crate::storage::models::Screening;
use crate::storage::schema::screenings;
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

/// The patient's latest screening: the last submitted (highest audit seq), whatever its
/// screening date. A patient is (trial, site, patient_ref).
pub fn latest_id(
    c: &mut DbConnection,
    trial_id: &str,
    site: &str,
    patient_ref: &str,
) -> Result<Option<String>, StorageError> {
    Ok(screenings::table
        .filter(screenings::trial_id.eq(trial_id))
        .filter(screenings::site.eq(site))
        .filter(screenings::patient_ref.eq(patient_ref))
        .order(screenings::audit_seq.desc())
        .select(screenings::id)
        .first(c)
        .optional()?)
}

/// Each patient's latest screening, newest first.
pub fn latest_per_patient(
    c: &mut DbConnection,
    trial_id: &str,
) -> Result<Vec<Screening>, StorageError> {
    let rows = list_all(c, trial_id)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .rev()
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
