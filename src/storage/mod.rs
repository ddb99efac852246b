//! Persistence: one diesel connection type over SQLite or PostgreSQL, the pool, migrations, the
//! schema and row structs, and the audit chain in the database.
//!
//! # Using it
//! ```ignore
//! let db = Database::connect(&url, PoolOptions::default())?;   // backend from the URL scheme
//! run_migrations(&mut db.get()?)?;                              // safe with several servers
//! let mut conn = db.get()?;                                     // inside web::block
//! write_transaction(&mut conn, |conn| {
//!     // lock what you serialise on, change state, then record it in the same transaction:
//!     let mut head = lock_chain_head(conn, trial_id)?;
//!     append_audit(conn, &mut head, now, actor, role, Action::SubjectRandomized, data)?;
//!     Ok::<_, StorageError>(())
//! })?;
//! ```
//! Where the backends must differ (row locks, `on_conflict`, `returning`), match on
//! [`DbConnection`]'s variants and use the concrete connection.
//!
//! # Errors
//! Every function returns [`StorageError`]; see its doc for the HTTP mapping (503 for
//! `Unavailable`, 409 for `Conflict` by [`constraints`] name).

mod chain;
mod connection;
mod error;
mod log;
mod log_start;
mod migrations;
pub mod models;
pub mod schema;
mod types;
mod url;

pub use chain::{
    append_audit, audit_head, create_chain, first_record_with_action, lock_chain_head, read_audit,
    verify_chain, ChainHead,
};
pub use connection::{
    establish, read_transaction, write_transaction, ConnectionManager, Database, DbConnection,
    Pool, PoolOptions, PooledConnection, SQLITE_BUSY_TIMEOUT_MS,
};
pub use error::{constraints, StorageError};
pub use log::{log_consistency, log_inclusion, log_leaf, log_root, log_size, Frontier};
pub use log_start::start_logs;
pub use migrations::{
    has_migrations_table, pending_migrations, revert_all_migrations, revert_last_migration,
    run_migrations, MIGRATION_LOCK_KEY, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS,
};
pub use url::{Backend, DatabaseUrl};

mod backup;
pub mod repo;

pub use backup::backup_sqlite;

/// A trivial query: is the database answering?
pub fn ping(conn: &mut DbConnection) -> Result<(), StorageError> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}
