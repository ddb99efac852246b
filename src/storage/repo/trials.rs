use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::protocol::TrialStatus;
pub use crate::storage::models::NewTrial;
use crate::storage::models::Trial;
use crate::storage::schema::{protocol_versions, trials};
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
    signature: Option<&str>,
) -> Result<(), StorageError> {
    diesel::update(trials::table.find(id))
        .set((
            trials::status.eq(TrialStatus::Closed),
            trials::closed_at.eq(Some(at)),
            trials::close_reason.eq(Some(reason)),
            trials::seed_revealed.eq(seed_revealed),
            trials::close_signature.eq(signature),
        ))
        .execute(c)?;
    Ok(())
}

/// One version of a trial's protocol.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = protocol_versions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ProtocolVersion {
    pub trial_id: String,
    pub version: i32,
    pub protocol_json: String,
    pub protocol_digest: String,
    pub effective_at: NaiveDateTime,
    pub reason: String,
    pub amended_by: String,
}

pub fn insert_version(c: &mut DbConnection, row: &ProtocolVersion) -> Result<(), StorageError> {
    diesel::insert_into(protocol_versions::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

/// Every version of the trial's protocol, oldest first.
pub fn versions(c: &mut DbConnection, id: &str) -> Result<Vec<ProtocolVersion>, StorageError> {
    Ok(protocol_versions::table
        .filter(protocol_versions::trial_id.eq(id))
        .order(protocol_versions::version.asc())
        .select(ProtocolVersion::as_select())
        .load(c)?)
}

/// Puts `version` of the protocol in force (its text, digest and cap).
pub fn set_protocol(
    c: &mut DbConnection,
    id: &str,
    version: &ProtocolVersion,
    cap: i64,
) -> Result<(), StorageError> {
    diesel::update(trials::table.find(id))
        .set((
            trials::protocol_json.eq(&version.protocol_json),
            trials::protocol_digest.eq(&version.protocol_digest),
            trials::protocol_version.eq(version.version),
            trials::cap.eq(cap),
        ))
        .execute(c)?;
    Ok(())
}
