//! The checkpoint keys a database's logs are signed with.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::storage::schema::signing_keys;
use crate::storage::{DbConnection, StorageError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SigningKey {
    /// The signed-note key id (hex).
    pub key_id: String,
    /// Ed25519 public key, base64.
    pub public_key: String,
    pub registered_at: NaiveDateTime,
}

pub fn list(c: &mut DbConnection) -> Result<Vec<SigningKey>, StorageError> {
    Ok(signing_keys::table
        .order(signing_keys::registered_at.asc())
        .select(SigningKey::as_select())
        .load(c)?)
}

pub fn insert(c: &mut DbConnection, key: &SigningKey) -> Result<(), StorageError> {
    diesel::insert_into(signing_keys::table)
        .values(key)
        .execute(c)?;
    Ok(())
}
