use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::protocol::TrialStatus;
pub use crate::storage::models::NewTrial;
use crate::storage::models::Trial;
use crate::storage::schema::trials;
use crate::storage::{DbConnection, StorageError};

pub fn insert(c: &mut DbConnection, row: &NewTrial<'_>) -> Result<(), StorageError> {
    diesel::insert_into(trials::table).values(row).execute(c)?;
    Ok(())
}

pub fn get(c: &mut DbConnection, id: &str) -> Result<Option<Trial>, StorageError> {
    Ok(trials::table
        .find(id)
        .select(Trial::as_select())
        .first(c)
        .optional()?)
}

pub fn list(c: &mut DbConnection) -> Result<Vec<Trial>, StorageError> {
    Ok(trials::table
        .order(trials::id)
        .select(Trial::as_select())
        .load(c)?)
}

pub fn close(
    c: &mut DbConnection,
    id: &str,
    at: NaiveDateTime,
    reason: &str,
    seed_revealed: bool,
) -> Result<(), StorageError> {
    diesel::update(trials::table.find(id))
        .set((
            trials::status.eq(TrialStatus::Closed),
            trials::closed_at.eq(Some(at)),
            trials::close_reason.eq(Some(reason)),
            trials::seed_revealed.eq(seed_revealed),
        ))
        .execute(c)?;
    Ok(())
}
