//! Decisions on pending corrections, and the deviations approved corrections revealed.

use diesel::prelude::*;

pub use crate::storage::models::{CorrectionDecision, Deviation};
use crate::storage::schema::{correction_decisions, deviations};
use crate::storage::{DbConnection, StorageError};

pub fn insert_decision(c: &mut DbConnection, row: &CorrectionDecision) -> Result<(), StorageError> {
    diesel::insert_into(correction_decisions::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

/// The decision on the correcting screening `screening_id`, if one was made.
pub fn decision(
    c: &mut DbConnection,
    screening_id: &str,
) -> Result<Option<CorrectionDecision>, StorageError> {
    Ok(correction_decisions::table
        .filter(correction_decisions::screening_id.eq(screening_id))
        .select(CorrectionDecision::as_select())
        .first(c)
        .optional()?)
}

/// Every decision of the trial, in the order they were made.
pub fn decisions(
    c: &mut DbConnection,
    trial_id: &str,
) -> Result<Vec<CorrectionDecision>, StorageError> {
    Ok(correction_decisions::table
        .filter(correction_decisions::trial_id.eq(trial_id))
        .order(correction_decisions::audit_seq.asc())
        .select(CorrectionDecision::as_select())
        .load(c)?)
}

pub fn insert_deviation(c: &mut DbConnection, row: &Deviation) -> Result<(), StorageError> {
    diesel::insert_into(deviations::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

/// Every deviation of the trial, in the order they were recorded.
pub fn deviations(c: &mut DbConnection, trial_id: &str) -> Result<Vec<Deviation>, StorageError> {
    Ok(deviations::table
        .filter(deviations::trial_id.eq(trial_id))
        .order((deviations::audit_seq.asc(), deviations::kind.asc()))
        .select(Deviation::as_select())
        .load(c)?)
}
