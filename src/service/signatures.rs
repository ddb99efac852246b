//! Electronic signatures of the web pages (21 CFR 11.50, 11.200): before a person randomizes,
//! withdraws, decides a correction or closes a trial, they enter their password again; a
//! [`Signer`] exists only once it was checked, and the use case turns it into the
//! [`Signature`] its audit entry and row carry, with the meaning of the act it records.

use chrono::NaiveDateTime;

use crate::access::User;
use crate::audit::signature::{Meaning, Signature};
use crate::service::error::Internal;
use crate::storage::{repo, DbConnection, StorageError};

/// A person who has just proved, with their password, that they are signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    name: String,
    full_name: String,
}

impl Signer {
    /// The signature of `meaning`, made at `at` (the time of the entry that records the act).
    pub fn sign(&self, meaning: &Meaning, at: NaiveDateTime) -> Signature {
        Signature {
            name: self.name.clone(),
            full_name: self.full_name.clone(),
            meaning: meaning.statement(),
            signed_at: super::format_time(at),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Why a signature was not made.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The password is not the signer's (counted like a failed sign-in).
    #[error("the password is not correct")]
    WrongPassword,
    /// A signature prints the signer's name; the account has none.
    #[error("your account has no full name to sign with; ask an administrator to add it")]
    NoFullName,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

/// Checks `password` against the signed-in `user`'s and returns the signer. An account without
/// a password (not activated, or reset) cannot sign.
pub fn authenticate(
    conn: &mut DbConnection,
    user: &User,
    password: &str,
) -> Result<Signer, SignatureError> {
    let row = repo::users::get(conn, &user.name)?;
    let Some(row) = row.filter(|r| r.revoked_at.is_none()) else {
        super::passwords::verify_nothing(password);
        return Err(SignatureError::WrongPassword);
    };
    let Some(phc) = row.password_hash.as_deref() else {
        super::passwords::verify_nothing(password);
        return Err(SignatureError::WrongPassword);
    };
    if !super::passwords::verify(password, phc) {
        return Err(SignatureError::WrongPassword);
    }
    if row.full_name.trim().is_empty() {
        return Err(SignatureError::NoFullName);
    }
    Ok(Signer {
        name: row.name,
        full_name: row.full_name,
    })
}
