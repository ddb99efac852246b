use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::storage::models::Trial;
use crate::storage::schema::trials;
use crate::storage::{DbConnection, StorageError};

#[derive(Insertable)]
#[diesel(table_name = trials)]
pub struct NewTrial<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub protocol_json: &'a str,
    pub protocol_digest: &'a str,
    pub algorithm: &'a str,
    pub seed_commitment: &'a str,
    pub status: &'a str,
    pub cap: i64,
    pub created_at: NaiveDateTime,
}

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
            trials::status.eq("closed"),
            trials::closed_at.eq(Some(at)),
            trials::close_reason.eq(Some(reason)),
            trials::seed_revealed.eq(seed_revealed),
        ))
        .execute(c)?;
    Ok(())
}
