//! Reading the database directly: row counts, SQLite's integrity check, and the invariants
//! that must hold right after a crash.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use trialgate::storage::{self, Backend, DbConnection};

use super::TRIAL;

#[derive(QueryableByName)]
struct IntegrityLine {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub(super) fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    let rows: Vec<Count> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c),
        DbConnection::Postgres(c) => diesel::sql_query(sql).load(c),
    }
    .unwrap();
    rows[0].n
}

/// `PRAGMA integrity_check` of a SQLite database: its lines (`["ok"]` when sound).
pub fn sqlite_integrity(conn: &mut DbConnection) -> Vec<String> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query("PRAGMA integrity_check")
            .load::<IntegrityLine>(c)
            .unwrap()
            .into_iter()
            .map(|l| l.integrity_check)
            .collect(),
        DbConnection::Postgres(_) => vec!["ok".into()],
    }
}

/// The database right after a crash (server dead, before the restart): every subject has its
/// audit entry and no entry lacks its subject; SQLite passes `integrity_check`. Returns the
/// number of subjects.
pub fn crash_point_check(url: &str) -> i64 {
    let mut conn = storage::establish(url).unwrap();
    if conn.backend() == Backend::Sqlite {
        let lines = sqlite_integrity(&mut conn);
        assert_eq!(lines, ["ok"], "SQLite integrity_check after a crash");
    }
    let subjects = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM subjects WHERE trial_id = '{TRIAL}'"),
    );
    let entries = count(
        &mut conn,
        &format!(
            "SELECT COUNT(*) AS n FROM audit_entries WHERE chain = '{TRIAL}' AND action = 'subject.randomized'"
        ),
    );
    assert_eq!(
        subjects, entries,
        "after a crash: {subjects} subjects but {entries} subject.randomized audit entries"
    );
    subjects
}
