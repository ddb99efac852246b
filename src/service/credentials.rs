//! A person's credentials over the account's life: activation with the one-time token (the
//! first password), signing in with name and password, changing one's password, and an
//! admin issuing another token — to rotate a system's credential or to reset a forgotten
//! password. Every change is audited on the system chain; no secret ever enters an entry.

use chrono::NaiveDateTime;
use serde_json::json;

use super::now;
use super::passwords;
use super::users::{checked_expiry, token_hash, UserError};
use crate::access::{Permission, User};
use crate::audit::{Action, SYSTEM_CHAIN};
use crate::eligibility::FieldError;
use crate::service::error::{impossible_id, Invalid, NotFound};
use crate::service::views::IssuedToken;
use crate::storage::{self, repo, DbConnection};

/// A new password as typed twice.
#[derive(Debug, Clone, Copy)]
pub struct NewPassword<'a> {
    pub password: &'a str,
    pub repeat: &'a str,
}

fn check_new(
    new: NewPassword<'_>,
    row: &crate::storage::models::User,
    errors: &mut Vec<FieldError>,
) {
    let personal = [row.name.as_str(), row.full_name.as_str()];
    if let Err(e) = passwords::check("password", new.password, &personal) {
        errors.push(e);
    }
    if new.password != new.repeat {
        errors.push(FieldError::new(
            "password_repeat",
            "must be the same password typed again",
        ));
    }
}

/// The account of an unexpired, unrevoked token whose user may act.
fn token_account(
    conn: &mut DbConnection,
    token: &str,
) -> Result<crate::storage::models::User, UserError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 256 {
        return Err(UserError::Unauthenticated);
    }
    let row = repo::users::by_token_hash(conn, &token_hash(token), now())?
        .ok_or(UserError::Unauthenticated)?;
    if row.expires_at.is_some_and(|at| at <= now()) {
        return Err(UserError::Unauthenticated);
    }
    Ok(row)
}

/// Activation: the holder of a one-time token of an account without a password sets its
/// first password. Afterwards the web pages take only name and password; the token stays an
/// API credential until revoked or expired (systems use tokens, people passwords).
#[tracing::instrument(name = "activate_account", skip_all)]
pub fn activate(
    conn: &mut DbConnection,
    token: &str,
    new: NewPassword<'_>,
) -> Result<User, UserError> {
    let row = token_account(conn, token)?;
    if row.password_hash.is_some() {
        return Err(UserError::AlreadyActivated);
    }
    let mut errors = Vec::new();
    check_new(new, &row, &mut errors);
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let phc = passwords::hash(new.password)?;
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        // Two activations racing: only the first sets the password.
        let current = repo::users::get(c, &row.name)?.ok_or(UserError::Unauthenticated)?;
        if current.password_hash.is_some() {
            return Err(UserError::AlreadyActivated);
        }
        storage::append_audit(
            c,
            &mut head,
            at,
            &row.name,
            Some(row.role),
            Action::UserActivated,
            json!({ "name": row.name }),
        )?;
        repo::users::set_password(c, &row.name, Some(&phc), at)?;
        Ok(())
    })?;
    super::users::active_user(conn, &row.name)
}

/// The user of a name and password; unknown names, wrong passwords, accounts not yet
/// activated, expired or revoked are all the same `Unauthenticated`, in the same time.
pub fn check_password(
    conn: &mut DbConnection,
    name: &str,
    password: &str,
) -> Result<User, UserError> {
    let name = name.trim();
    // A name no account can have is not looked up (PostgreSQL refuses a NUL in text).
    let row = if name.is_empty() || name.len() > 64 || impossible_id(name) {
        None
    } else {
        repo::users::get(conn, name)?
    };
    let usable = row.filter(|r| r.revoked_at.is_none());
    match usable.as_ref().and_then(|r| r.password_hash.as_deref()) {
        Some(phc) if passwords::verify(password, phc) => {}
        Some(_) => return Err(UserError::Unauthenticated),
        None => {
            passwords::verify_nothing(password);
            return Err(UserError::Unauthenticated);
        }
    }
    super::users::active_user(conn, name)
}

/// A signed-in person changes their password (the current one proves it is them). Their other
/// browser sessions end; the caller opens a new one for this browser.
#[tracing::instrument(name = "change_password", skip_all, fields(user = %user.name))]
pub fn change_password(
    conn: &mut DbConnection,
    user: &User,
    current: &str,
    new: NewPassword<'_>,
) -> Result<(), UserError> {
    let row = repo::users::get(conn, &user.name)?.ok_or(UserError::Unauthenticated)?;
    let mut errors = Vec::new();
    let current_ok = row
        .password_hash
        .as_deref()
        .is_some_and(|phc| passwords::verify(current, phc));
    if !current_ok {
        errors.push(FieldError::new("current_password", "is not your password"));
    }
    check_new(new, &row, &mut errors);
    if current_ok && new.password == current {
        errors.push(FieldError::new(
            "password",
            "must differ from the current password",
        ));
    }
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let phc = passwords::hash(new.password)?;
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        storage::append_audit(
            c,
            &mut head,
            at,
            &user.name,
            Some(user.role),
            Action::PasswordChanged,
            json!({ "name": user.name }),
        )?;
        repo::users::set_password(c, &user.name, Some(&phc), at)?;
        repo::web_sessions::delete_for_user(c, &user.name)?;
        Ok(())
    })
}

/// What an admin asks for when issuing a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// RFC 3339 or a date; the token stops authenticating then.
    pub expires_at: Option<String>,
    /// Revoke the user's other tokens (rotation).
    pub revoke_others: bool,
    /// Clear the password and end the user's sessions: the new token activates the account
    /// again (a forgotten password).
    pub reset_password: bool,
}

/// Issues another bearer token to a user (shown once), audited `user.token_issued`.
#[tracing::instrument(name = "issue_token", skip_all, fields(actor = %actor.name, name = %name))]
pub fn issue_token(
    conn: &mut DbConnection,
    actor: &User,
    name: &str,
    request: &TokenRequest,
) -> Result<IssuedToken, UserError> {
    actor.require_permission(Permission::ManageUsers)?;
    if impossible_id(name) {
        return Err(NotFound::user(name).into());
    }
    let mut errors = Vec::new();
    let expires_at: Option<NaiveDateTime> = request
        .expires_at
        .as_deref()
        .and_then(|e| checked_expiry(e, &mut errors));
    if expires_at.is_some_and(|e| e <= now()) {
        errors.push(FieldError::new("expires_at", "must be in the future"));
    }
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let token = super::users::generate_token()?;
    let hash = token_hash(&token);
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        let row = repo::users::get(c, name)?.ok_or_else(|| NotFound::user(name))?;
        if row.revoked_at.is_some() {
            return Err(UserError::from(Invalid::field(
                "name",
                "the user is revoked; a revoked account gets no new token",
            )));
        }
        let revoked = if request.revoke_others {
            repo::users::revoke_tokens(c, name, at)?
        } else {
            0
        };
        storage::append_audit(
            c,
            &mut head,
            at,
            &actor.name,
            Some(actor.role),
            Action::TokenIssued,
            json!({
                "name": name,
                "expires_at": expires_at.map(super::format_time),
                "revoked_tokens": revoked,
                "password_reset": request.reset_password,
            }),
        )?;
        repo::users::insert_token(c, &hash, name, at, expires_at)?;
        if request.reset_password {
            repo::users::set_password(c, name, None, at)?;
            repo::web_sessions::delete_for_user(c, name)?;
        }
        Ok(IssuedToken {
            name: name.to_string(),
            token,
            expires_at: expires_at.map(super::format_time),
            revoked_tokens: revoked,
            password_reset: request.reset_password,
        })
    })
}
