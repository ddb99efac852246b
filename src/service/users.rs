//! Users and their bearer tokens: 256-bit random, shown once, stored only as SHA-256.

use std::collections::BTreeSet;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::now;
use crate::access::{Permission, Role, User};
use crate::audit::{Action, SYSTEM_CHAIN};
use crate::eligibility::FieldError;
use crate::service::error::{Internal, Invalid, NotFound};
use crate::service::views::{CreatedUser, RevokedUser, UserSummary};
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
        let ok = !site.is_empty()
            && site.len() <= crate::eligibility::MAX_REF_LEN
            && site
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            errors.push(FieldError::new(
                format!("sites[{i}]"),
                "may contain only letters, digits, '-', '_' and '.'",
            ));
        } else if !unique.insert(site.clone()) {
            errors.push(FieldError::new(format!("sites[{i}]"), "is listed twice"));
        }
    }
    // Site limits are for the roles that act on patients. An admin manages the whole server;
    // a monitor's views are trial-wide, which a site-limited user may not open.
    let refused = match role {
        _ if sites.is_empty() => None,
        Some(Role::Admin) => Some("must be empty for an admin: admins are never limited to sites"),
        Some(Role::Monitor) => Some(
            "must be empty for a monitor: a site-limited monitor could open none of the \
             trial-wide views; site-limited monitors come with the sites register in a later \
             release",
        ),
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

/// Creates a user with a first token. `actor` is the admin (or `cli`) doing it.
#[tracing::instrument(name = "create_user", skip_all, fields(actor = %actor.name))]
pub fn create(
    conn: &mut DbConnection,
    actor: &User,
    name: &str,
    role: &str,
    sites: &[String],
) -> Result<CreatedUser, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
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
            json!({ "name": name, "role": role.as_str(), "sites": sites }),
        )?;
        repo::users::insert(c, name, role, &sites, at)?;
        repo::users::insert_token(c, &hash, name, at)?;
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
    let row =
        repo::users::by_token_hash(conn, &token_hash(token))?.ok_or(UserError::Unauthenticated)?;
    user_of(row)
}

/// The user of this name unless revoked (a browser session's user, checked on each request).
pub fn active_user(conn: &mut DbConnection, name: &str) -> Result<User, UserError> {
    match repo::users::get(conn, name)? {
        Some(row) if row.revoked_at.is_none() => user_of(row),
        _ => Err(UserError::Unauthenticated),
    }
}

/// Every user, for the admin's user list (never a token).
pub fn list(conn: &mut DbConnection, actor: &User) -> Result<Vec<UserSummary>, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
    repo::users::list(conn)?
        .into_iter()
        .map(|row| {
            let sites: Vec<String> = serde_json::from_str(&row.sites)
                .map_err(|e| Internal::caused(format!("user {} sites", row.name), e))?;
            Ok(UserSummary {
                name: row.name,
                role: row.role,
                sites,
                created_at: super::format_time(row.created_at),
                revoked_at: row.revoked_at.map(super::format_time),
            })
        })
        .collect()
}

fn user_of(row: crate::storage::models::User) -> Result<User, UserError> {
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
    fn only_investigators_and_pharmacists_are_site_limited() {
        assert!(fields("investigator", &["SITE01"]).is_empty());
        assert!(fields("pharmacist", &["SITE01", "SITE02"]).is_empty());
        assert_eq!(fields("admin", &["SITE01"]), ["sites"]);
        assert_eq!(fields("monitor", &["SITE01"]), ["sites"]);
        assert!(fields("admin", &[]).is_empty());
        assert!(fields("monitor", &[]).is_empty());
        // A bad site is still named by its index, once.
        assert_eq!(fields("monitor", &["SITE/1"]), ["sites[0]", "sites"]);
    }
}
