use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::access::Role;
use crate::language::Language;
use crate::storage::models::User;
use crate::storage::schema::{tokens, users};
use crate::storage::{DbConnection, StorageError};

pub fn insert(
    c: &mut DbConnection,
    name: &str,
    role: Role,
    sites: &[String],
    at: NaiveDateTime,
) -> Result<(), StorageError> {
    let sites = serde_json::to_string(sites).map_err(|e| StorageError::Integrity(e.to_string()))?;
    diesel::insert_into(users::table)
        .values((
            users::name.eq(name),
            users::role.eq(role),
            users::sites.eq(sites),
            users::created_at.eq(at),
        ))
        .execute(c)?;
    Ok(())
}

/// How stale `last_active_at` may be: a request writes it only when it is older, so reads
/// stay reads.
pub const ACTIVITY_RESOLUTION_MINUTES: i64 = 5;

/// Whether `last_active_at` should be written for a request at `at`.
pub fn activity_is_stale(last: Option<NaiveDateTime>, at: NaiveDateTime) -> bool {
    last.is_none_or(|l| at - l >= chrono::Duration::minutes(ACTIVITY_RESOLUTION_MINUTES))
}

/// Records that the user was active at `at`.
pub fn touch(c: &mut DbConnection, name: &str, at: NaiveDateTime) -> Result<(), StorageError> {
    diesel::update(users::table.find(name))
        .set(users::last_active_at.eq(Some(at)))
        .execute(c)?;
    Ok(())
}

/// Sets a user's full name, e-mail and expiry.
pub fn set_profile(
    c: &mut DbConnection,
    name: &str,
    full_name: &str,
    email: Option<&str>,
    expires_at: Option<NaiveDateTime>,
) -> Result<(), StorageError> {
    diesel::update(users::table.find(name))
        .set((
            users::full_name.eq(full_name),
            users::email.eq(email),
            users::expires_at.eq(expires_at),
        ))
        .execute(c)?;
    Ok(())
}

/// Sets a user's role and sites.
pub fn set_access(
    c: &mut DbConnection,
    name: &str,
    role: Role,
    sites: &[String],
) -> Result<(), StorageError> {
    let sites = serde_json::to_string(sites).map_err(|e| StorageError::Integrity(e.to_string()))?;
    diesel::update(users::table.find(name))
        .set((users::role.eq(role), users::sites.eq(sites)))
        .execute(c)?;
    Ok(())
}

pub fn insert_token(
    c: &mut DbConnection,
    token_hash: &str,
    user_name: &str,
    at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
) -> Result<(), StorageError> {
    diesel::insert_into(tokens::table)
        .values((
            tokens::token_hash.eq(token_hash),
            tokens::user_name.eq(user_name),
            tokens::created_at.eq(at),
            tokens::expires_at.eq(expires_at),
        ))
        .execute(c)?;
    Ok(())
}

/// Sets (or, with `None`, clears) a user's password hash.
pub fn set_password(
    c: &mut DbConnection,
    name: &str,
    phc: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StorageError> {
    diesel::update(users::table.find(name))
        .set((
            users::password_hash.eq(phc),
            users::password_set_at.eq(phc.map(|_| at)),
        ))
        .execute(c)?;
    Ok(())
}

/// Revokes every active token of a user (the user stays); returns how many.
pub fn revoke_tokens(
    c: &mut DbConnection,
    name: &str,
    at: NaiveDateTime,
) -> Result<i64, StorageError> {
    let n = diesel::update(
        tokens::table
            .filter(tokens::user_name.eq(name))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(Some(at)))
    .execute(c)?;
    Ok(n as i64)
}

pub fn get(c: &mut DbConnection, name: &str) -> Result<Option<User>, StorageError> {
    Ok(users::table
        .find(name)
        .select(User::as_select())
        .first(c)
        .optional()?)
}

pub fn count(c: &mut DbConnection) -> Result<i64, StorageError> {
    Ok(users::table.count().get_result(c)?)
}

/// The active user holding an active token with this hash, unexpired at `at`.
pub fn by_token_hash(
    c: &mut DbConnection,
    hash: &str,
    at: NaiveDateTime,
) -> Result<Option<User>, StorageError> {
    Ok(tokens::table
        .inner_join(users::table)
        .filter(tokens::token_hash.eq(hash))
        .filter(tokens::revoked_at.is_null())
        .filter(tokens::expires_at.is_null().or(tokens::expires_at.gt(at)))
        .filter(users::revoked_at.is_null())
        .select(User::as_select())
        .first(c)
        .optional()?)
}

/// Revokes the user and every active token; returns how many tokens were active.
pub fn revoke(c: &mut DbConnection, name: &str, at: NaiveDateTime) -> Result<i64, StorageError> {
    let n = revoke_tokens(c, name, at)?;
    diesel::update(users::table.find(name).filter(users::revoked_at.is_null()))
        .set(users::revoked_at.eq(Some(at)))
        .execute(c)?;
    Ok(n)
}

/// Every user, by name.
pub fn list(c: &mut DbConnection) -> Result<Vec<User>, StorageError> {
    Ok(users::table
        .order(users::name)
        .select(User::as_select())
        .load(c)?)
}

/// The user's chosen language; `None` when they chose none (or the stored tag is unknown).
pub fn language(c: &mut DbConnection, name: &str) -> Result<Option<Language>, StorageError> {
    let tag: Option<Option<String>> = users::table
        .find(name)
        .select(users::language)
        .first(c)
        .optional()?;
    Ok(tag.flatten().as_deref().and_then(Language::from_tag))
}

/// Sets (or with `None` clears) the user's language.
pub fn set_language(
    c: &mut DbConnection,
    name: &str,
    language: Option<Language>,
) -> Result<(), StorageError> {
    diesel::update(users::table.find(name))
        .set(users::language.eq(language.map(Language::tag)))
        .execute(c)?;
    Ok(())
}
