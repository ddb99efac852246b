//! Users and their bearer tokens: 256-bit random, shown once, stored only as SHA-256.

use std::collections::BTreeSet;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::now;
use crate::access::{Permission, Role, User};
use crate::audit::{Action, SYSTEM_CHAIN};
use crate::eligibility::FieldError;
use crate::language::Language;
use crate::service::error::{impossible_id, Internal, Invalid, NotFound};
use crate::service::registry_fields::{checked_display_name, checked_email, valid_site_code};
use crate::service::views::{
    AccessReviewRow, AccountStatus, CreatedUser, RevokedUser, UserSummary,
};
use crate::storage::{self, repo, DbConnection, StorageError};

/// Why a user could not be created, revoked, listed or authenticated.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(transparent)]
    Denied(#[from] crate::access::AccessDenied),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A token or session that belongs to no active user.
    #[error("missing, unknown or revoked credentials")]
    Unauthenticated,
    /// An activation token of an account that already has a password.
    #[error("this account is already activated; sign in with your name and password")]
    AlreadyActivated,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<diesel::result::Error> for UserError {
    fn from(e: diesel::result::Error) -> Self {
        UserError::Storage(e.into())
    }
}

/// Hex SHA-256 of a token: what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token: `tg_` and 64 hex characters (256 bits from the OS CSPRNG).
pub fn generate_token() -> Result<String, Internal> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Internal::new(format!("no randomness from the operating system: {e}")))?;
    Ok(format!("tg_{}", hex::encode(bytes)))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
}

/// Checks a new user's fields, naming every bad one.
pub fn validate_new_user(
    name: &str,
    role: &str,
    sites: &[String],
) -> Result<(Role, Vec<String>), Invalid> {
    let mut errors = Vec::new();
    if !valid_name(name) {
        errors.push(FieldError::new(
            "name",
            "must be 1–64 letters, digits, '.', '_', '@' or '-'",
        ));
    }
    let role = Role::parse(role);
    if role.is_none() {
        errors.push(FieldError::new(
            "role",
            "must be admin, investigator, pharmacist or monitor",
        ));
    }
    let mut unique = BTreeSet::new();
    for (i, site) in sites.iter().enumerate() {
        if !valid_site_code(site) {
            errors.push(FieldError::new(
                format!("sites[{i}]"),
                "may contain only letters, digits, '-', '_' and '.'",
            ));
        } else if !unique.insert(site.clone()) {
            errors.push(FieldError::new(format!("sites[{i}]"), "is listed twice"));
        }
    }
    // An admin manages the whole server; every other role may be limited to sites (a
    // site-limited monitor, e.g. a CRA, sees the trial-wide views restricted to its sites).
    let refused = match role {
        _ if sites.is_empty() => None,
        Some(Role::Admin) => Some("must be empty for an admin: admins are never limited to sites"),
        _ => None,
    };
    if let Some(message) = refused {
        errors.push(FieldError::new("sites", message));
    }
    match role {
        Some(role) if errors.is_empty() => Ok((role, unique.into_iter().collect())),
        _ => Err(Invalid(errors)),
    }
}

/// A person's details on their account; each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub full_name: Option<String>,
    pub email: Option<String>,
    /// RFC 3339, or a date (the account expires at its start, UTC).
    pub expires_at: Option<String>,
}

/// A full name as stored: trimmed, NFC, any script; no control or reordering character.
fn checked_full_name(text: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    checked_display_name("full_name", text, errors)
}

pub(super) fn checked_expiry(
    text: &str,
    errors: &mut Vec<FieldError>,
) -> Option<chrono::NaiveDateTime> {
    let at = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.naive_utc())
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    if at.is_none() {
        errors.push(FieldError::new(
            "expires_at",
            "must be a date (YYYY-MM-DD) or an RFC 3339 time",
        ));
    }
    at.map(crate::audit::truncate_to_micros)
}

/// Creates a user with a first token. `actor` is the admin (or `cli`) doing it.
pub fn create(
    conn: &mut DbConnection,
    actor: &User,
    name: &str,
    role: &str,
    sites: &[String],
) -> Result<CreatedUser, UserError> {
    create_account(conn, actor, name, role, sites, &Profile::default())
}

/// [`create`] with the person's details.
#[tracing::instrument(name = "create_user", skip_all, fields(actor = %actor.name))]
pub fn create_account(
    conn: &mut DbConnection,
    actor: &User,
    name: &str,
    role: &str,
    sites: &[String],
    profile: &Profile,
) -> Result<CreatedUser, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
    let mut errors = match validate_new_user(name, role, sites) {
        Ok(_) => Vec::new(),
        Err(Invalid(errors)) => errors,
    };
    let full_name = profile
        .full_name
        .as_deref()
        .and_then(|n| checked_full_name(n, &mut errors));
    let email = profile
        .email
        .as_deref()
        .and_then(|e| checked_email(e, &mut errors));
    let expires_at = profile
        .expires_at
        .as_deref()
        .and_then(|e| checked_expiry(e, &mut errors));
    errors.extend(super::sites::unregistered(conn, "sites", sites)?);
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let (role, sites) = validate_new_user(name, role, sites)?;
    let token = generate_token()?;
    let hash = token_hash(&token);
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        if repo::users::get(c, name)?.is_some() {
            return Err(UserError::from(Invalid::field(
                "name",
                "a user with this name exists",
            )));
        }
        storage::append_audit(
            c,
            &mut head,
            at,
            &actor.name,
            Some(actor.role),
            Action::UserCreated,
            json!({
                "name": name, "role": role.as_str(), "sites": sites,
                "full_name": full_name, "email": email,
                "expires_at": expires_at.map(super::format_time),
            }),
        )?;
        repo::users::insert(c, name, role, &sites, at)?;
        repo::users::set_profile(
            c,
            name,
            full_name.as_deref().unwrap_or(""),
            email.as_deref(),
            expires_at,
        )?;
        repo::users::insert_token(c, &hash, name, at, None)?;
        Ok(())
    })?;
    Ok(CreatedUser {
        name: name.to_string(),
        role,
        sites,
        token,
    })
}

/// Revokes every token of a user.
#[tracing::instrument(name = "revoke_user", skip_all, fields(actor = %actor.name, name = %name))]
pub fn revoke(conn: &mut DbConnection, actor: &User, name: &str) -> Result<RevokedUser, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
    if impossible_id(name) {
        return Err(NotFound::user(name).into());
    }
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        if repo::users::get(c, name)?.is_none() {
            return Err(NotFound::user(name).into());
        }
        let revoked = repo::users::revoke(c, name, at)?;
        // Revoking a user also ends their browser sessions.
        repo::web_sessions::delete_for_user(c, name)?;
        storage::append_audit(
            c,
            &mut head,
            at,
            &actor.name,
            Some(actor.role),
            Action::UserRevoked,
            json!({ "name": name, "revoked_tokens": revoked }),
        )?;
        Ok(RevokedUser {
            name: name.to_string(),
            revoked_tokens: revoked,
        })
    })
}

/// The user a bearer token belongs to; revoked tokens and users are refused.
pub fn authenticate(conn: &mut DbConnection, token: &str) -> Result<User, UserError> {
    let row = repo::users::by_token_hash(conn, &token_hash(token), now())?
        .ok_or(UserError::Unauthenticated)?;
    let user = user_of(row.clone())?;
    note_activity(conn, &row);
    Ok(user)
}

/// Keeps `last_active_at` for the access review, writing only when it is a few minutes old
/// (so a busy user's requests stay reads). A failure here never refuses the request.
fn note_activity(conn: &mut DbConnection, row: &crate::storage::models::User) {
    let at = now();
    if repo::users::activity_is_stale(row.last_active_at, at) {
        if let Err(e) = repo::users::touch(conn, &row.name, at) {
            tracing::warn!(user = %row.name, error = %e, "could not record the user's activity");
        }
    }
}

/// The user of this name unless revoked (a browser session's user, checked on each request).
pub fn active_user(conn: &mut DbConnection, name: &str) -> Result<User, UserError> {
    match repo::users::get(conn, name)? {
        Some(row) if row.revoked_at.is_none() => {
            // Only an account that may act is active (not an expired one).
            let user = user_of(row.clone())?;
            note_activity(conn, &row);
            Ok(user)
        }
        _ => Err(UserError::Unauthenticated),
    }
}

/// The language `user` chose for the pages, if any.
pub fn language(conn: &mut DbConnection, user: &User) -> Result<Option<Language>, UserError> {
    Ok(repo::users::language(conn, &user.name)?)
}

/// Sets the language `user` reads the pages in. Anyone signed in may choose their own; it is a
/// display preference that changes no record of the trial, so it is not audited.
pub fn set_language(
    conn: &mut DbConnection,
    user: &User,
    language: Language,
) -> Result<(), UserError> {
    Ok(repo::users::set_language(conn, &user.name, Some(language))?)
}

/// Every user, for the admin's user list (never a token).
pub fn list(conn: &mut DbConnection, actor: &User) -> Result<Vec<UserSummary>, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
    repo::users::list(conn)?
        .into_iter()
        .map(|row| {
            let sites: Vec<String> = serde_json::from_str(&row.sites)
                .map_err(|e| Internal::caused(format!("user {} sites", row.name), e))?;
            Ok(summary_of(row, sites))
        })
        .collect()
}

/// One user, for the admin's page of the account (never a token).
pub fn get(conn: &mut DbConnection, actor: &User, name: &str) -> Result<UserSummary, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
    if impossible_id(name) {
        return Err(NotFound::user(name).into());
    }
    let row = repo::users::get(conn, name)?.ok_or_else(|| NotFound::user(name))?;
    let sites: Vec<String> = serde_json::from_str(&row.sites)
        .map_err(|e| Internal::caused(format!("user {} sites", row.name), e))?;
    Ok(summary_of(row, sites))
}

fn summary_of(row: crate::storage::models::User, sites: Vec<String>) -> UserSummary {
    let status = if row.revoked_at.is_some() {
        AccountStatus::Revoked
    } else if row.expires_at.is_some_and(|at| at <= now()) {
        AccountStatus::Expired
    } else {
        AccountStatus::Active
    };
    UserSummary {
        name: row.name,
        role: row.role,
        sites,
        full_name: row.full_name,
        email: row.email,
        status,
        password_set: row.password_hash.is_some(),
        created_at: super::format_time(row.created_at),
        last_active_at: row.last_active_at.map(super::format_time),
        expires_at: row.expires_at.map(super::format_time),
        revoked_at: row.revoked_at.map(super::format_time),
    }
}

/// The access review an auditor asks for: every account, what its role may do and where,
/// when it was last active and when it expires.
pub fn access_review(
    conn: &mut DbConnection,
    actor: &User,
) -> Result<Vec<AccessReviewRow>, UserError> {
    let users = list(conn, actor)?;
    Ok(users
        .into_iter()
        .map(|u| AccessReviewRow {
            permissions: Permission::ALL
                .into_iter()
                .filter(|p| p.roles().contains(&u.role))
                .map(|p| p.name().to_string())
                .collect(),
            user: u,
        })
        .collect())
}

/// The access review as CSV (formula-safe cells), for a spreadsheet.
pub fn access_review_csv(rows: &[AccessReviewRow]) -> Result<Vec<u8>, Internal> {
    use super::csv_cell;
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Internal::caused("writing the access review", e);
    w.write_record([
        "name",
        "full_name",
        "role",
        "sites",
        "permissions",
        "status",
        "password_set",
        "created_at",
        "last_active_at",
        "expires_at",
        "revoked_at",
        "email",
    ])
    .map_err(internal)?;
    for r in rows {
        let u = &r.user;
        let sites = if u.sites.is_empty() {
            "all".to_string()
        } else {
            u.sites.join(";")
        };
        let permissions = r.permissions.join(";");
        let cells = [
            csv_cell::text(&u.name),
            csv_cell::text(&u.full_name),
            csv_cell::text(u.role.as_str()),
            csv_cell::text(&sites),
            csv_cell::text(&permissions),
            csv_cell::text(u.status.as_str()),
            csv_cell::text(if u.password_set { "yes" } else { "no" }),
            csv_cell::text(&u.created_at),
            csv_cell::text(u.last_active_at.as_deref().unwrap_or("")),
            csv_cell::text(u.expires_at.as_deref().unwrap_or("")),
            csv_cell::text(u.revoked_at.as_deref().unwrap_or("")),
            csv_cell::text(u.email.as_deref().unwrap_or("")),
        ];
        w.write_record(cells.iter().map(|c| c.as_ref()))
            .map_err(internal)?;
    }
    w.into_inner()
        .map_err(|e| Internal::caused("writing the access review", e.into_error()))
}

/// PATCH /users/{name}: what to change; absent fields stay. `email` and `expires_at` are
/// cleared by `Some(None)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<String>,
    pub sites: Option<Vec<String>>,
    pub full_name: Option<String>,
    pub email: Option<Option<String>>,
    pub expires_at: Option<Option<String>>,
}

/// Changes a user's role, sites, full name, e-mail or expiry; audited `user.changed` with old
/// and new values. A change of role or sites applies from the user's next request.
#[tracing::instrument(name = "change_user", skip_all, fields(actor = %actor.name, name = %name))]
pub fn change(
    conn: &mut DbConnection,
    actor: &User,
    name: &str,
    change: &UserChange,
) -> Result<UserSummary, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
    if impossible_id(name) {
        return Err(NotFound::user(name).into());
    }
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        let row = repo::users::get(c, name)?.ok_or_else(|| NotFound::user(name))?;
        let old_sites: Vec<String> = serde_json::from_str(&row.sites)
            .map_err(|e| Internal::caused(format!("user {} sites", row.name), e))?;
        let mut errors = Vec::new();
        let role = change.role.as_deref().unwrap_or(row.role.as_str());
        let sites = change.sites.clone().unwrap_or_else(|| old_sites.clone());
        // The same rules as for a new user (the name is the existing one).
        let checked = validate_new_user(name, role, &sites)
            .map_err(|Invalid(e)| errors.extend(e))
            .ok();
        if change.sites.is_some() {
            errors.extend(super::sites::unregistered(c, "sites", &sites)?);
        }
        let full_name = match &change.full_name {
            Some(n) => checked_full_name(n, &mut errors),
            None => Some(row.full_name.clone()),
        };
        let email = match &change.email {
            Some(Some(e)) => checked_email(e, &mut errors).map(Some),
            Some(None) => Some(None),
            None => Some(row.email.clone()),
        };
        let expires_at = match &change.expires_at {
            Some(Some(e)) => checked_expiry(e, &mut errors).map(Some),
            Some(None) => Some(None),
            None => Some(row.expires_at),
        };
        let (Some((role, sites)), Some(full_name), Some(email), Some(expires_at)) =
            (checked, full_name, email, expires_at)
        else {
            return Err(Invalid(errors).into());
        };
        if !errors.is_empty() {
            return Err(Invalid(errors).into());
        }
        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, old: serde_json::Value, new: serde_json::Value| {
            if old != new {
                changes.insert(field.into(), json!({ "old": old, "new": new }));
            }
        };
        note("role", json!(row.role.as_str()), json!(role.as_str()));
        note("sites", json!(old_sites), json!(sites));
        note("full_name", json!(row.full_name), json!(full_name));
        note("email", json!(row.email), json!(email));
        note(
            "expires_at",
            json!(row.expires_at.map(super::format_time)),
            json!(expires_at.map(super::format_time)),
        );
        if changes.is_empty() {
            return Err(Invalid::field("", "changes nothing").into());
        }
        storage::append_audit(
            c,
            &mut head,
            at,
            &actor.name,
            Some(actor.role),
            Action::UserChanged,
            json!({ "name": name, "changes": changes }),
        )?;
        repo::users::set_access(c, name, role, &sites)?;
        repo::users::set_profile(c, name, &full_name, email.as_deref(), expires_at)?;
        let row = repo::users::get(c, name)?.ok_or_else(|| NotFound::user(name))?;
        Ok(summary_of(row, sites))
    })
}

fn user_of(row: crate::storage::models::User) -> Result<User, UserError> {
    if row.expires_at.is_some_and(|at| at <= now()) {
        return Err(UserError::Unauthenticated);
    }
    let sites: Vec<String> = serde_json::from_str(&row.sites)
        .map_err(|e| Internal::caused(format!("user {} sites", row.name), e))?;
    Ok(User {
        name: row.name,
        role: row.role,
        sites,
    })
}

/// Records a failed authentication in the `_system` chain: the client address and whether it
/// is now blocked — never the token.
pub fn record_auth_failure(
    conn: &mut DbConnection,
    ip: &str,
    blocked: bool,
) -> Result<(), UserError> {
    let action = if blocked {
        Action::AuthBlocked
    } else {
        Action::AuthFailed
    };
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        storage::append_audit(
            c,
            &mut head,
            now(),
            "anonymous",
            None,
            action,
            json!({ "client": ip, "reason": "missing, unknown or revoked token" }),
        )?;
        Ok(())
    })
}

/// The identity of command-line administration (`trialgate user add`).
pub fn cli_actor() -> User {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    User {
        name: format!("cli:{who}"),
        role: Role::Admin,
        sites: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(role: &str, sites: &[&str]) -> Vec<String> {
        let sites: Vec<String> = sites.iter().map(|s| s.to_string()).collect();
        match validate_new_user("u", role, &sites) {
            Ok(_) => Vec::new(),
            Err(Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn every_role_but_admin_may_be_site_limited() {
        assert!(fields("investigator", &["SITE01"]).is_empty());
        assert!(fields("pharmacist", &["SITE01", "SITE02"]).is_empty());
        assert!(fields("monitor", &["SITE01"]).is_empty());
        assert_eq!(fields("admin", &["SITE01"]), ["sites"]);
        assert!(fields("admin", &[]).is_empty());
        assert!(fields("monitor", &[]).is_empty());
        // A bad site is still named by its index, once.
        assert_eq!(fields("admin", &["SITE/1"]), ["sites[0]", "sites"]);
        assert_eq!(
            fields("monitor", &["SITE/1", "S1", "S1"]),
            ["sites[0]", "sites[2]"]
        );
    }
}
