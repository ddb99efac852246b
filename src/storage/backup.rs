//! Online backup of the embedded SQLite database.

use std::path::Path;

use diesel::connection::SimpleConnection;

use super::{DbConnection, StorageError};

/// Writes a transactionally consistent copy of the SQLite database to `dest` while the server
/// keeps running (`VACUUM INTO`), then checks the copy's integrity. PostgreSQL is backed up
/// with `pg_dump` instead (docs/operator-guide.md).
pub fn backup_sqlite(conn: &mut DbConnection, dest: &Path) -> Result<(), StorageError> {
    let DbConnection::Sqlite(c) = conn else {
        return Err(StorageError::Integrity(
            "trialgate backup copies SQLite databases; back up PostgreSQL with pg_dump (see the operator guide)".into(),
        ));
    };
    if dest.exists() {
        return Err(StorageError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} exists; a backup never overwrites a file",
                dest.display()
            ),
        )));
    }
    let dest_text = dest.to_str().ok_or_else(|| {
        StorageError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "backup path is not valid UTF-8",
        ))
    })?;
    // Created empty and 0600 first (VACUUM INTO fills an empty file), like the database.
    super::connection::make_private(dest)?;
    if let Err(e) = c.batch_execute(&format!("VACUUM INTO '{}'", dest_text.replace('\'', "''"))) {
        let _ = std::fs::remove_file(dest);
        return Err(e.into());
    }
    let mut copy = super::establish(&format!("sqlite://{dest_text}"))?;
    let DbConnection::Sqlite(copy) = &mut copy else {
        return Err(StorageError::Integrity("backup is not SQLite".into()));
    };
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(copy)?;
    match rows.first() {
        Some(r) if r.integrity_check == "ok" => Ok(()),
        other => Err(StorageError::Integrity(format!(
            "backup failed its integrity check: {}",
            other.map_or("no answer", |r| r.integrity_check.as_str())
        ))),
    }
}
