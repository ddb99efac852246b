//! Browser sessions (`web_sessions`): looked up by the hash of the session id.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::storage::models::WebSession;
use crate::storage::schema::web_sessions;
use crate::storage::{DbConnection, StorageError};

pub fn insert(c: &mut DbConnection, row: &WebSession) -> Result<(), StorageError> {
    diesel::insert_into(web_sessions::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

pub fn get(c: &mut DbConnection, id_hash: &str) -> Result<Option<WebSession>, StorageError> {
    Ok(web_sessions::table
        .find(id_hash)
        .select(WebSession::as_select())
        .first(c)
        .optional()?)
}

pub fn touch(c: &mut DbConnection, id_hash: &str, at: NaiveDateTime) -> Result<(), StorageError> {
    diesel::update(web_sessions::table.find(id_hash))
        .set(web_sessions::last_seen_at.eq(at))
        .execute(c)?;
    Ok(())
}

pub fn delete(c: &mut DbConnection, id_hash: &str) -> Result<usize, StorageError> {
    Ok(diesel::delete(web_sessions::table.find(id_hash)).execute(c)?)
}

/// Ends every session of a user (revocation).
pub fn delete_for_user(c: &mut DbConnection, user_name: &str) -> Result<usize, StorageError> {
    Ok(
        diesel::delete(web_sessions::table.filter(web_sessions::user_name.eq(user_name)))
            .execute(c)?,
    )
}

/// Removes sessions past their absolute limit or idle since before `idle_before`.
pub fn delete_expired(
    c: &mut DbConnection,
    now: NaiveDateTime,
    idle_before: NaiveDateTime,
) -> Result<usize, StorageError> {
    Ok(diesel::delete(
        web_sessions::table.filter(
            web_sessions::expires_at
                .le(now)
                .or(web_sessions::last_seen_at.lt(idle_before)),
        ),
    )
    .execute(c)?)
}
