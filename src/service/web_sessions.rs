//! Browser sessions of the web pages: signing in with name and password (or activating an
//! account with its one-time token), resolving the session
//! cookie on each request, signing out. The database keeps only the SHA-256 of the random
//! session id, the user's name and the times; the id itself is only in the HttpOnly cookie.

use chrono::Duration;

use super::now;
use crate::access::User;
use crate::service::credentials::{self, NewPassword};
use crate::service::error::Internal;
use crate::service::users::UserError;
use crate::storage::models::WebSession;
use crate::storage::{self, repo, DbConnection};

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends a session after this long without a request.
    pub idle: Duration,
    /// Ends a session this long after sign-in, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::hours(8),
            absolute: Duration::hours(12),
        }
    }
}

/// A session just created: the id goes into the cookie, never into the database.
pub struct NewSession {
    pub id: String,
    pub user: User,
}

/// Requests closer together than this do not rewrite `last_seen_at`.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// Hex SHA-256 of a session id: what the database keeps.
pub fn session_hash(id: &str) -> String {
    super::users::token_hash(id)
}

/// A session id has the shape of 64 lowercase hex characters.
pub fn well_formed(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Signs in with name and password (see [`credentials::check_password`]); refuses with
/// `Unauthenticated` whatever was wrong. Also clears expired sessions.
pub fn sign_in(
    conn: &mut DbConnection,
    name: &str,
    password: &str,
    policy: SessionPolicy,
) -> Result<NewSession, UserError> {
    let user = credentials::check_password(conn, name, password)?;
    open(conn, user, policy)
}

/// Activates an account with its one-time token and the first password, and signs in.
pub fn activate(
    conn: &mut DbConnection,
    token: &str,
    new: NewPassword<'_>,
    policy: SessionPolicy,
) -> Result<NewSession, UserError> {
    let user = credentials::activate(conn, token, new)?;
    open(conn, user, policy)
}

/// A new session of `user` (after a password was checked or set).
pub fn open(
    conn: &mut DbConnection,
    user: User,
    policy: SessionPolicy,
) -> Result<NewSession, UserError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Internal::new(format!("no randomness from the operating system: {e}")))?;
    let id = hex::encode(bytes);
    let at = now();
    let row = WebSession {
        id_hash: session_hash(&id),
        user_name: user.name.clone(),
        created_at: at,
        last_seen_at: at,
        expires_at: at + policy.absolute,
    };
    storage::write_transaction(conn, |c| {
        repo::web_sessions::delete_expired(c, at, at - policy.idle)?;
        repo::web_sessions::insert(c, &row)?;
        Ok::<_, UserError>(())
    })?;
    Ok(NewSession { id, user })
}

/// The user of a live session; `None` when the id is unknown, expired (idle or absolute)
/// or its user was revoked. An expired session is deleted.
pub fn resolve(
    conn: &mut DbConnection,
    id: &str,
    policy: SessionPolicy,
) -> Result<Option<User>, UserError> {
    if !well_formed(id) {
        return Ok(None);
    }
    let hash = session_hash(id);
    let Some(row) = repo::web_sessions::get(conn, &hash)? else {
        return Ok(None);
    };
    let at = now();
    if at >= row.expires_at || at >= row.last_seen_at + policy.idle {
        repo::web_sessions::delete(conn, &hash)?;
        return Ok(None);
    }
    let user = match super::users::active_user(conn, &row.user_name) {
        Ok(user) => user,
        Err(UserError::Unauthenticated) => {
            repo::web_sessions::delete(conn, &hash)?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if at - row.last_seen_at >= TOUCH_EVERY {
        repo::web_sessions::touch(conn, &hash, at)?;
    }
    Ok(Some(user))
}

/// Ends a session (signing out); unknown ids are fine.
pub fn sign_out(conn: &mut DbConnection, id: &str) -> Result<(), UserError> {
    if well_formed(id) {
        repo::web_sessions::delete(conn, &session_hash(id))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_hashing() {
        assert!(well_formed(&"a".repeat(64)));
        assert!(!well_formed(&"A".repeat(64)));
        assert!(!well_formed(&"a".repeat(63)));
        assert!(!well_formed("tg_0123"));
        assert_eq!(session_hash("x").len(), 64);
    }
}
