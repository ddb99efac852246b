//! [`StorageError`]: what the storage layer returns, classified for the HTTP layer.

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

use crate::audit::AuditError;

/// Errors of the storage layer.
///
/// Mapping for the HTTP layer: [`Unavailable`](Self::Unavailable) → 503 (database down, pool
/// exhausted, SQLite lock wait timed out, SQLite disk full); [`Conflict`](Self::Conflict) → the use case's 409
/// (inspect [`constraint`](Self::constraint)); [`NotFound`](Self::NotFound) /
/// [`UnknownChain`](Self::UnknownChain) → 404 where the caller expects a row; everything else
/// → 500 (log it, do not leak it).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database URL is not usable (unsupported scheme, missing path, …). Never contains the
    /// URL itself (it may hold a password).
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database cannot be reached or no connection became free in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique or primary-key constraint was violated.
    #[error("conflict: {message}")]
    Conflict {
        /// Portable constraint name (see [`constraints`](super::constraints)), when known.
        constraint: Option<String>,
        message: String,
    },
    /// A query that must return a row returned none.
    #[error("row not found")]
    NotFound,
    /// No audit chain of that name (no `audit_heads` row).
    #[error("unknown audit chain `{0}`")]
    UnknownChain(String),
    /// The database contradicts an invariant of this layer (e.g. an audit head moved under a
    /// locked writer).
    #[error("storage invariant violated: {0}")]
    Integrity(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A Merkle proof asked for a tree the log does not have, or stored nodes do not fit.
    #[error(transparent)]
    Merkle(#[from] crate::audit::merkle::MerkleError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Any other database error (constraint checks, trigger refusals, SQL errors).
    #[error("database error: {0}")]
    Database(DieselError),
}

impl StorageError {
    /// The portable name of the violated unique constraint, for a [`Conflict`](Self::Conflict).
    pub fn constraint(&self) -> Option<&str> {
        match self {
            StorageError::Conflict { constraint, .. } => constraint.as_deref(),
            _ => None,
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

impl From<DieselError> for StorageError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => StorageError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                let constraint = info
                    .constraint_name()
                    .map(str::to_owned)
                    .or_else(|| sqlite_unique_constraint(info.message()));
                StorageError::Conflict {
                    constraint,
                    message: info.message().to_owned(),
                }
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => StorageError::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_sqlite_busy(info.message()) || is_sqlite_full(info.message()) =>
            {
                StorageError::Unavailable(info.message().to_owned())
            }
            // A failed COMMIT whose rollback failed too: the commit's cause decides (a dropped
            // connection or a full disk is still `Unavailable`).
            DieselError::RollbackErrorOnCommit { commit_error, .. } => Self::from(*commit_error),
            other => StorageError::Database(other),
        }
    }
}

impl From<ConnectionError> for StorageError {
    fn from(error: ConnectionError) -> Self {
        match error {
            ConnectionError::InvalidConnectionUrl(message) => StorageError::InvalidUrl(message),
            ConnectionError::BadConnection(message) => StorageError::Unavailable(message),
            ConnectionError::CouldntSetupConfiguration(e) => StorageError::from(e),
            other => StorageError::Unavailable(other.to_string()),
        }
    }
}

/// SQLite's lock-wait failures (after `busy_timeout`): the database is too busy right now.
fn is_sqlite_busy(message: &str) -> bool {
    message.starts_with("database is locked")
        || message.starts_with("database table is locked")
        || message.starts_with("database schema is locked")
}

/// SQLite's `SQLITE_FULL`: the disk (or the database's size limit) is full. Nothing was
/// written — SQLite rolls the statement or transaction back — and freeing space cures it, so it
/// is a 503 like a database that is down, not a 500.
fn is_sqlite_full(message: &str) -> bool {
    message.starts_with("database or disk is full")
}

/// Names of the unique constraints, identical on both backends (PostgreSQL reports them; for
/// SQLite they are derived from the columns in the error message).
pub mod constraints {
    pub const TRIALS_PKEY: &str = "trials_pkey";
    pub const USERS_PKEY: &str = "users_pkey";
    pub const TOKENS_PKEY: &str = "tokens_pkey";
    pub const SCREENINGS_PKEY: &str = "screenings_pkey";
    pub const SCREENINGS_TRIAL_AUDIT_SEQ: &str = "screenings_trial_audit_seq_key";
    pub const SUBJECTS_PKEY: &str = "subjects_pkey";
    /// Same trial, same `sequence`.
    pub const SUBJECTS_TRIAL_SEQUENCE: &str = "subjects_trial_sequence_key";
    /// The patient (trial, site, patient_ref) is already randomized.
    pub const SUBJECTS_TRIAL_SITE_PATIENT: &str = "subjects_trial_site_patient_key";
    pub const SUBJECTS_TRIAL_STRATUM_POSITION: &str = "subjects_trial_stratum_position_key";
    /// Same user, same `Idempotency-Key`.
    pub const SUBJECTS_IDEMPOTENCY: &str = "subjects_idempotency_key";
    pub const AUDIT_ENTRIES_PKEY: &str = "audit_entries_pkey";
    pub const AUDIT_HEADS_PKEY: &str = "audit_heads_pkey";

    /// (constraint, columns as SQLite lists them in "UNIQUE constraint failed: …").
    pub(super) const SQLITE_COLUMNS: &[(&str, &str)] = &[
        (TRIALS_PKEY, "trials.id"),
        (USERS_PKEY, "users.name"),
        (TOKENS_PKEY, "tokens.token_hash"),
        (SCREENINGS_PKEY, "screenings.id"),
        (
            SCREENINGS_TRIAL_AUDIT_SEQ,
            "screenings.trial_id, screenings.audit_seq",
        ),
        (SUBJECTS_PKEY, "subjects.id"),
        (
            SUBJECTS_TRIAL_SEQUENCE,
            "subjects.trial_id, subjects.sequence",
        ),
        (
            SUBJECTS_TRIAL_SITE_PATIENT,
            "subjects.trial_id, subjects.site, subjects.patient_ref",
        ),
        (
            SUBJECTS_TRIAL_STRATUM_POSITION,
            "subjects.trial_id, subjects.stratum_key, subjects.stratum_position",
        ),
        (
            SUBJECTS_IDEMPOTENCY,
            "subjects.randomized_by, subjects.idempotency_key",
        ),
        (AUDIT_ENTRIES_PKEY, "audit_entries.chain, audit_entries.seq"),
        (AUDIT_HEADS_PKEY, "audit_heads.chain"),
    ];
}

fn sqlite_unique_constraint(message: &str) -> Option<String> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    constraints::SQLITE_COLUMNS
        .iter()
        .find(|(_, cols)| *cols == columns)
        .map(|(name, _)| (*name).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_map_to_constraint_names() {
        assert_eq!(
            sqlite_unique_constraint(
                "UNIQUE constraint failed: subjects.trial_id, subjects.site, subjects.patient_ref"
            )
            .as_deref(),
            Some(constraints::SUBJECTS_TRIAL_SITE_PATIENT)
        );
        assert_eq!(
            sqlite_unique_constraint("UNIQUE constraint failed: x.y"),
            None
        );
        assert!(is_sqlite_busy("database is locked"));
        assert!(!is_sqlite_busy("no such table: x"));
        assert!(is_sqlite_full("database or disk is full"));
        assert!(!is_sqlite_full("disk I/O error"));
    }

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn full_disk_and_lost_commits_are_unavailable() {
        let full = db_error(DatabaseErrorKind::Unknown, "database or disk is full");
        assert!(StorageError::from(full).is_unavailable());
        // The connection dropped during COMMIT, so the rollback failed too.
        let lost = DieselError::RollbackErrorOnCommit {
            rollback_error: Box::new(db_error(DatabaseErrorKind::ClosedConnection, "gone")),
            commit_error: Box::new(db_error(DatabaseErrorKind::ClosedConnection, "gone")),
        };
        assert!(StorageError::from(lost).is_unavailable());
        let other = db_error(DatabaseErrorKind::Unknown, "no such table: x");
        assert!(!StorageError::from(other).is_unavailable());
    }
}
