//! Operator use cases behind the command line: opening the database with or without
//! migrating it, the online backup, and checking a saved audit checkpoint.

use std::path::Path;

use super::data_dir::DataDir;
use crate::audit::checkpoint::{self, Checkpoint, CheckpointError};
use crate::audit::merkle;
use crate::audit::note::{self, SignedCheckpoint};
use crate::storage::{self, DatabaseUrl, DbConnection, StorageError};

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be created or restricted to its owner.
    #[error("{0}")]
    DataDir(#[source] std::io::Error),
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// The SQLite file does not exist (it is not created by a command that never migrates).
    #[error("there is no database at {url}; run `trialgate migrate`")]
    NoDatabase { url: String },
    /// The database exists but trialgate's migrations never ran on it.
    #[error("the database at {url} has no trialgate schema; run `trialgate migrate`")]
    NoSchema { url: String },
    /// Some of this version's migrations are not applied yet.
    #[error("the database at {url} is not migrated ({pending} pending migration(s)); run `trialgate migrate`")]
    NotMigrated { url: String, pending: usize },
}

/// A database URL without its password, for logs and messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// One migrated connection, creating the data directory (0700) for SQLite's sake. Commands
/// use a single connection, not a pool: no background threads may outlive `main`, where a
/// pool's connection threads racing libpq's exit-time cleanup could crash a finished command.
pub fn open_migrated(data_dir: &DataDir, url: &str) -> Result<DbConnection, OpenError> {
    data_dir.prepare().map_err(OpenError::DataDir)?;
    let mut conn = storage::establish(url)?;
    storage::run_migrations(&mut conn)?;
    Ok(conn)
}

/// One connection to a database that must already hold the current schema: never creates
/// a SQLite file, never migrates, and refuses when migrations are missing. For commands that
/// only read or copy (`audit verify`, `audit check`, `backup`).
pub fn open_existing(url: &str) -> Result<DbConnection, OpenError> {
    if let DatabaseUrl::Sqlite(path) = DatabaseUrl::parse(url)? {
        if !path.exists() {
            return Err(OpenError::NoDatabase {
                url: redact_url(url),
            });
        }
    }
    let mut conn = storage::establish(url)?;
    if !storage::has_migrations_table(&mut conn)? {
        return Err(OpenError::NoSchema {
            url: redact_url(url),
        });
    }
    // The bookkeeping table exists, so this creates nothing.
    let pending = storage::pending_migrations(&mut conn)?.len();
    if pending > 0 {
        return Err(OpenError::NotMigrated {
            url: redact_url(url),
            pending,
        });
    }
    Ok(conn)
}

/// `trialgate backup`: a consistent online copy of the SQLite database to a new file.
pub fn backup(conn: &mut DbConnection, to: &Path) -> Result<(), StorageError> {
    storage::backup_sqlite(conn, to)
}

/// Why a saved checkpoint is not accepted (printed after `checkpoint FILE: INVALID: `).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointProblem {
    #[error("{0}")]
    Read(#[source] std::io::Error),
    #[error("not a checkpoint: {0}")]
    NotACheckpoint(#[source] serde_json::Error),
    #[error("it is for trial {found}, not {wanted}")]
    OtherTrial { found: String, wanted: String },
    #[error("{0}")]
    Signature(#[source] CheckpointError),
    #[error("no pinned key (--public-key or checkpoint.pub in the data dir): {0}")]
    NoPinnedKey(#[source] std::io::Error),
    #[error("it is signed by a key other than the pinned one")]
    OtherKey,
    #[error("the pinned key is not base64 of a 32-byte Ed25519 public key")]
    BadPinnedKey,
    #[error("signed note: {0}")]
    Note(#[source] crate::audit::note::NoteError),
}

/// A checkpoint a monitor saved: the signed JSON head (deprecated), or the Merkle log's C2SP
/// signed note.
#[derive(Debug, Clone)]
pub enum SavedCheckpoint {
    Head(Checkpoint),
    Tree {
        checkpoint: SignedCheckpoint,
        key_id: String,
    },
}

/// What the current log says about a saved tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// The current tree of `size` entries extends it: the consistency proof verified.
    Extends { size: u64 },
    /// It does not: the message names what failed.
    Broken(String),
}

/// Reads a checkpoint file of `trial` and checks its signature against the pinned key: the
/// one given (base64), else the data directory's `checkpoint.pub`.
pub fn read_checkpoint(
    path: &Path,
    trial: &str,
    public_key: Option<&str>,
    data_dir: &DataDir,
) -> Result<SavedCheckpoint, CheckpointProblem> {
    let text = std::fs::read_to_string(path).map_err(CheckpointProblem::Read)?;
    let pinned = match public_key {
        Some(k) => k.trim().to_string(),
        None => std::fs::read_to_string(data_dir.checkpoint_public_key_file())
            .map_err(CheckpointProblem::NoPinnedKey)?
            .trim()
            .to_string(),
    };
    if !text.trim_start().starts_with('{') {
        return read_signed_note(&text, trial, &pinned);
    }
    let c: Checkpoint = serde_json::from_str(&text).map_err(CheckpointProblem::NotACheckpoint)?;
    if c.trial != trial {
        return Err(CheckpointProblem::OtherTrial {
            found: c.trial,
            wanted: trial.to_string(),
        });
    }
    let signer = checkpoint::verify_signature(&c).map_err(CheckpointProblem::Signature)?;
    if checkpoint::public_key_base64(&signer) != pinned {
        return Err(CheckpointProblem::OtherKey);
    }
    Ok(SavedCheckpoint::Head(c))
}

/// A signed note of `trial`'s tree, verified with the pinned key. The key's name is the note's
/// origin without its `/{trial}`, as the server signs it.
fn read_signed_note(
    text: &str,
    trial: &str,
    pinned: &str,
) -> Result<SavedCheckpoint, CheckpointProblem> {
    let key = checkpoint::parse_public_key(pinned).ok_or(CheckpointProblem::BadPinnedKey)?;
    let origin_line = text.lines().next().unwrap_or_default();
    let Some(key_name) = origin_line.strip_suffix(&format!("/{trial}")) else {
        return Err(CheckpointProblem::OtherTrial {
            found: origin_line.to_string(),
            wanted: trial.to_string(),
        });
    };
    let checkpoint =
        note::parse_and_verify(text, key_name, &key).map_err(CheckpointProblem::Note)?;
    Ok(SavedCheckpoint::Tree {
        checkpoint,
        key_id: hex::encode(note::key_id(key_name, &key)),
    })
}

/// Whether the chain's current tree extends a saved one, by a consistency proof from the
/// saved size to the current size (no replay of the chain).
pub fn log_extends(
    conn: &mut DbConnection,
    trial: &str,
    saved: &SignedCheckpoint,
) -> Result<Extension, StorageError> {
    storage::read_transaction(conn, |c| {
        let size = storage::log_size(c, trial)?;
        if saved.size > size {
            return Ok(Extension::Broken(format!(
                "the saved tree has {} entries, the current one only {size} (truncated)",
                saved.size
            )));
        }
        let proof = storage::log_consistency(c, trial, saved.size, size)?;
        let root = storage::log_root(c, trial, size)?;
        Ok(
            match merkle::verify_consistency(saved.size, size, &saved.root, &root, &proof) {
                Ok(()) => Extension::Extends { size },
                Err(e) => Extension::Broken(e.to_string()),
            },
        )
    })
}

/// Whether the chain still holds the checkpoint's entry, unchanged.
pub fn chain_contains(
    conn: &mut DbConnection,
    trial: &str,
    c: &Checkpoint,
) -> Result<bool, StorageError> {
    let entry = storage::read_audit(conn, trial, c.seq - 1, 1)?;
    Ok(matches!(entry.first(), Some(e) if e.seq == c.seq && e.hash == c.hash))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_only_the_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite:///d/trialgate.db"),
            "sqlite:///d/trialgate.db"
        );
    }
}
