//! Shared test support: a fresh database per test on either backend.
//!
//! ```ignore
//! #[macro_use]
//! mod common;
//! use common::TestDb;
//!
//! fn my_test(db: TestDb) { let database = db.migrated(); /* … */ }
//! both_backends!(my_test);   // → tests `my_test::sqlite` and `my_test::postgres`
//! ```
//!
//! PostgreSQL: each test gets `CREATE DATABASE tg_<uuid>` on the server of
//! `TRIALGATE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), dropped
//! (`WITH (FORCE)`) when the `TestDb` is dropped. If the server is unreachable the PostgreSQL
//! variants print one line to stderr and pass without running, unless
//! `TRIALGATE_REQUIRE_POSTGRES=1`, in which case they fail.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod app;

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::{PgConnection, SqliteConnection};
use trialgate::storage::{self, Backend, Database, DbConnection, PoolOptions};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists for the lifetime of this value.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    dir: Option<tempfile::TempDir>,
    postgres: Option<PostgresDrop>,
}

struct PostgresDrop {
    admin_url: String,
    name: String,
}

impl TestDb {
    /// The same database for another server, without owning it (the original drops it).
    pub fn shared(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            backend: self.backend,
            dir: None,
            postgres: None,
        }
    }

    /// A SQLite file in a fresh temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("trialgate.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            dir: Some(dir),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (after saying so on stderr) when no server is
    /// reachable and `TRIALGATE_REQUIRE_POSTGRES` is not `1`.
    pub fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url();
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(error) => {
                let line = format!(
                    "PostgreSQL not reachable at {} ({}): PostgreSQL tests NOT run",
                    redact(&admin_url),
                    error
                        .to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                if std::env::var("TRIALGATE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("{line} (TRIALGATE_REQUIRE_POSTGRES=1)");
                }
                static SAID: OnceLock<()> = OnceLock::new();
                SAID.get_or_init(|| {
                    // Straight to the process's stderr: libtest does not capture this.
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                });
                return None;
            }
        };
        let name = format!("tg_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("CREATE DATABASE");
        Some(TestDb {
            url: with_database(&admin_url, &name),
            backend: Backend::Postgres,
            dir: None,
            postgres: Some(PostgresDrop { admin_url, name }),
        })
    }

    pub fn for_backend(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite()),
            Backend::Postgres => TestDb::postgres(),
        }
    }

    /// The temporary directory of a SQLite database.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// A pool (8 connections, 10 s timeout), not migrated.
    pub fn database(&self) -> Database {
        self.database_with(PoolOptions {
            max_size: 8,
            connection_timeout: Duration::from_secs(10),
        })
    }

    pub fn database_with(&self, options: PoolOptions) -> Database {
        Database::connect(&self.url, options).expect("connect to test database")
    }

    /// A pool over the fully migrated database.
    pub fn migrated(&self) -> Database {
        let database = self.database();
        storage::run_migrations(&mut database.get().expect("connection")).expect("migrations");
        database
    }

    /// One connection outside any pool.
    pub fn connection(&self) -> DbConnection {
        storage::establish(&self.url).expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(pg) = &self.postgres {
            let result = PgConnection::establish(&pg.admin_url)
                .map_err(|e| e.to_string())
                .and_then(|mut admin| {
                    admin
                        .batch_execute(&format!(
                            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                            pg.name
                        ))
                        .map_err(|e| e.to_string())
                });
            if let Err(error) = result {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "warning: could not drop test database {}: {error}",
                    pg.name
                );
            }
        }
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("TRIALGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into())
}

/// `url` with its database name replaced by `name` (query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{prefix}/{name}{query}")
}

/// `url` without the password.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..])
        }
        _ => url.to_owned(),
    }
}

/// Generates `#[test] fn sqlite()` and `#[test] fn postgres()` in a module named after each
/// given function (`fn(TestDb)`), so the tests are `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::TestDb::sqlite());
            }

            #[test]
            fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres() {
                    super::$name(db);
                }
            }
        }
    )+};
}

/// Drops the audit triggers, as a malicious database administrator could.
pub fn drop_audit_triggers(conn: &mut DbConnection) {
    match conn {
        DbConnection::Sqlite(c) => c
            .batch_execute(
                "DROP TRIGGER audit_entries_no_update;
                 DROP TRIGGER audit_entries_no_delete;
                 DROP TRIGGER audit_entries_extend_head;
                 DROP TRIGGER audit_heads_start_empty;
                 DROP TRIGGER audit_heads_advance;
                 DROP TRIGGER audit_heads_no_delete;",
            )
            .unwrap(),
        DbConnection::Postgres(c) => c
            .batch_execute(
                "DROP TRIGGER audit_entries_no_update ON audit_entries;
                 DROP TRIGGER audit_entries_no_delete ON audit_entries;
                 DROP TRIGGER audit_entries_no_truncate ON audit_entries;
                 DROP TRIGGER audit_entries_extend_head ON audit_entries;
                 DROP TRIGGER audit_heads_start_empty ON audit_heads;
                 DROP TRIGGER audit_heads_advance ON audit_heads;
                 DROP TRIGGER audit_heads_no_delete ON audit_heads;
                 DROP TRIGGER audit_heads_no_truncate ON audit_heads;",
            )
            .unwrap(),
    }
}

/// Drops the triggers that keep subject rows to audited withdrawals and screenings
/// append-only: what a database administrator tampering with the tables would do first.
pub fn drop_table_triggers(conn: &mut DbConnection) {
    match conn {
        DbConnection::Sqlite(c) => c
            .batch_execute(
                "DROP TRIGGER subjects_no_delete;
                 DROP TRIGGER subjects_only_audited_withdrawal;
                 DROP TRIGGER screenings_no_update;
                 DROP TRIGGER screenings_no_delete;
                 DROP TRIGGER deviations_no_delete;
                 DROP TRIGGER correction_decisions_no_delete;",
            )
            .unwrap(),
        DbConnection::Postgres(c) => c
            .batch_execute(
                "DROP TRIGGER subjects_guard_update ON subjects;
                 DROP TRIGGER subjects_guard_delete ON subjects;
                 DROP TRIGGER subjects_guard_truncate ON subjects;
                 DROP TRIGGER screenings_no_update ON screenings;
                 DROP TRIGGER screenings_no_delete ON screenings;
                 DROP TRIGGER screenings_no_truncate ON screenings;
                 DROP TRIGGER deviations_no_delete ON deviations;
                 DROP TRIGGER correction_decisions_no_delete ON correction_decisions;",
            )
            .unwrap(),
    }
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// A sorted textual description of the schema (tables, columns, constraints, indexes,
/// triggers, functions), for comparing schemas.
pub fn schema_dump(conn: &mut DbConnection) -> Vec<String> {
    let lines: Vec<Line> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') AS line
             FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1",
        )
        .load(c)
        .unwrap(),
        DbConnection::Postgres(c) => diesel::sql_query(
            // The column's place among live columns: a dropped and re-added column gets a new
            // attnum but is the same schema.
            "SELECT 'column ' || table_name || ' '
                    || row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position)
                    || ' ' || column_name
                    || ' ' || data_type || ' ' || is_nullable || ' '
                    || coalesce(column_default, '') AS line
             FROM information_schema.columns WHERE table_schema = 'public'
             UNION ALL
             SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
                    || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL
             SELECT 'index ' || indexname || ' ' || indexdef
             FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL
             SELECT 'trigger ' || tgname || ' ' || pg_get_triggerdef(oid)
             FROM pg_trigger WHERE NOT tgisinternal
             UNION ALL
             SELECT 'function ' || proname || ' ' || md5(prosrc)
             FROM pg_proc WHERE pronamespace = 'public'::regnamespace
             ORDER BY 1",
        )
        .load(c)
        .unwrap(),
    };
    lines.into_iter().map(|l| l.line).collect()
}

/// Runs one SQL statement on the concrete connection (test setup and tampering).
pub fn execute(conn: &mut DbConnection, sql: &str) -> QueryResult<usize> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).execute(c),
        DbConnection::Postgres(c) => diesel::sql_query(sql).execute(c),
    }
}

/// The SQLite connection of a `DbConnection` (panics on PostgreSQL).
pub fn sqlite(conn: &mut DbConnection) -> &mut SqliteConnection {
    match conn {
        DbConnection::Sqlite(c) => c,
        DbConnection::Postgres(_) => panic!("not a SQLite connection"),
    }
}

/// Rebuilds a chain's Merkle log from its entries as they now stand (keeping each entry's
/// nonce), with the log's triggers dropped: what an administrator who rewrote entries would
/// do next so that the log agrees with them.
pub fn rewrite_log(conn: &mut DbConnection, chain: &str) {
    use trialgate::audit::merkle::{leaf_hash, MemoryTree};
    let drop = match conn {
        DbConnection::Sqlite(_) => {
            "DROP TRIGGER IF EXISTS merkle_nodes_no_update; DROP TRIGGER IF EXISTS merkle_nodes_no_delete;"
        }
        DbConnection::Postgres(_) => {
            "DROP TRIGGER IF EXISTS merkle_nodes_no_update ON merkle_nodes;
             DROP TRIGGER IF EXISTS merkle_nodes_no_delete ON merkle_nodes;"
        }
    };
    for statement in drop.split(';').filter(|s| !s.trim().is_empty()) {
        execute(conn, statement).unwrap();
    }
    let entries = trialgate::storage::read_audit(conn, chain, 0, 100_000).unwrap();
    let mut tree = MemoryTree::new();
    for e in &entries {
        let (nonce, _) = trialgate::storage::log_leaf(conn, chain, e.seq)
            .unwrap()
            .unwrap();
        for n in tree.append(leaf_hash(&nonce, e.record.as_bytes())) {
            execute(
                conn,
                &format!(
                    "UPDATE merkle_nodes SET hash = '{}' WHERE chain = '{chain}' AND level = {} AND idx = {}",
                    hex::encode(n.hash),
                    n.level,
                    n.index
                ),
            )
            .unwrap();
        }
    }
    let frontier = trialgate::storage::Frontier::of(&tree, tree.size()).unwrap();
    execute(
        conn,
        &format!(
            "UPDATE audit_heads SET log_frontier = '{}' WHERE chain = '{chain}'",
            frontier.encode()
        ),
    )
    .unwrap();
}
