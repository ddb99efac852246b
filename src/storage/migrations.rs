//! Embedded migrations, run under a lock so that servers starting together never race.
//!
//! `migrations/sqlite/` and `migrations/postgres/` hold the same migration names; the set is
//! chosen by the connection's variant.
//!
//! Locking: the whole run is one transaction.
//! * PostgreSQL: `BEGIN`, then `pg_advisory_xact_lock(MIGRATION_LOCK_KEY)`; the lock is released
//!   by the commit or rollback (also if the connection dies). Each migration runs in a savepoint.
//! * SQLite: `BEGIN EXCLUSIVE` — the database write lock, held to the commit; a second migrator
//!   waits for it (busy timeout) and then finds nothing pending.
//!
//! DDL is transactional on both, so a failed run leaves the schema as it was. A future migration
//! that cannot run inside a transaction (e.g. `CREATE INDEX CONCURRENTLY`) needs a different
//! scheme.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationVersion;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConnection, StorageError};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Advisory lock key of the migration run ("trialgat" in ASCII).
pub const MIGRATION_LOCK_KEY: i64 = 0x7472_6961_6c67_6174;

type HarnessError = Box<dyn std::error::Error + Send + Sync>;

fn harness_error(error: HarnessError) -> StorageError {
    match error.downcast::<diesel::result::Error>() {
        Ok(diesel_error) => StorageError::from(*diesel_error),
        Err(other) => StorageError::Migration(other.to_string()),
    }
}

fn versions(list: Vec<MigrationVersion<'_>>) -> Vec<String> {
    list.into_iter().map(|v| v.to_string()).collect()
}

fn locked<T>(
    conn: &mut DbConnection,
    sqlite: impl FnOnce(&mut diesel::SqliteConnection) -> Result<T, HarnessError>,
    postgres: impl FnOnce(&mut diesel::PgConnection) -> Result<T, HarnessError>,
) -> Result<T, StorageError> {
    match conn {
        DbConnection::Sqlite(c) => c.exclusive_transaction(|c| sqlite(c).map_err(harness_error)),
        DbConnection::Postgres(c) => c.transaction(|c| {
            c.batch_execute(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))?;
            postgres(c).map_err(harness_error)
        }),
    }
}

/// Applies all pending migrations; returns the versions applied (empty when up to date).
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    let applied = locked(
        conn,
        |c| c.run_pending_migrations(SQLITE_MIGRATIONS).map(versions),
        |c| c.run_pending_migrations(POSTGRES_MIGRATIONS).map(versions),
    )?;
    // Chains that predate the Merkle log are committed to it once, in an audited entry.
    super::start_logs(conn)?;
    Ok(applied)
}

/// Versions not yet applied, oldest first.
pub fn pending_migrations(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    fn names<DB: diesel::backend::Backend>(
        list: Vec<Box<dyn diesel::migration::Migration<DB>>>,
    ) -> Vec<String> {
        list.iter()
            .map(|m| m.name().version().to_string())
            .collect()
    }
    locked(
        conn,
        |c| c.pending_migrations(SQLITE_MIGRATIONS).map(names),
        |c| c.pending_migrations(POSTGRES_MIGRATIONS).map(names),
    )
}

/// Reverts the most recent migration (tools and tests); returns its version.
pub fn revert_last_migration(conn: &mut DbConnection) -> Result<String, StorageError> {
    locked(
        conn,
        |c| {
            c.revert_last_migration(SQLITE_MIGRATIONS)
                .map(|v| v.to_string())
        },
        |c| {
            c.revert_last_migration(POSTGRES_MIGRATIONS)
                .map(|v| v.to_string())
        },
    )
}

/// Reverts every applied migration, newest first (tools and tests).
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    locked(
        conn,
        |c| c.revert_all_migrations(SQLITE_MIGRATIONS).map(versions),
        |c| c.revert_all_migrations(POSTGRES_MIGRATIONS).map(versions),
    )
}

/// Whether diesel's migration bookkeeping table exists, read-only (asking the migration
/// harness would create it): commands that must not migrate check this first.
pub fn has_migrations_table(conn: &mut DbConnection) -> Result<bool, StorageError> {
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM sqlite_master \
             WHERE type = 'table' AND name = '__diesel_schema_migrations'",
        )
        .get_result::<Count>(c),
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM pg_catalog.pg_tables \
             WHERE tablename = '__diesel_schema_migrations' \
             AND schemaname = ANY (current_schemas(false))",
        )
        .get_result::<Count>(c),
    }?;
    Ok(count.n > 0)
}
