//! Storage layer on both backends: migrations, connection settings, audit chain, tampering,
//! errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::json;

use common::{drop_audit_triggers, execute, rewrite_log, schema_dump, TestDb};
use trialgate::access::Role;
use trialgate::audit::{self, Action, Defect, GENESIS_HASH, SYSTEM_CHAIN};
use trialgate::eligibility::Outcome;
use trialgate::protocol::{SubjectStatus, TrialStatus};
use trialgate::storage::models::{
    AuditEntry, NewAuditEntry, NewScreening, NewSubject, NewToken, NewTrial, NewUser, Screening,
    Subject, Token, Trial, User,
};
use trialgate::storage::schema::{audit_entries, audit_heads, subjects, trials};
use trialgate::storage::{
    self, append_audit, audit_head, constraints, create_chain, lock_chain_head, read_audit,
    verify_chain, write_transaction, Backend, Database, DbConnection, PoolOptions, StorageError,
};

fn now() -> NaiveDateTime {
    audit::truncate_to_micros(Utc::now().naive_utc())
}

fn append(conn: &mut DbConnection, chain: &str, i: i64) -> AuditEntry {
    write_transaction(conn, |c| {
        let mut head = lock_chain_head(c, chain)?;
        append_audit(
            c,
            &mut head,
            now(),
            "tester",
            Some(Role::Admin),
            Action::UserRevoked,
            json!({ "i": i }),
        )
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Migrations

/// Migrations in migrations/sqlite and migrations/postgres (the same names on both).
const MIGRATIONS: usize = 14;

fn migrations_apply_and_are_idempotent(db: TestDb) {
    let database = db.database();
    let mut conn = database.get().unwrap();
    let pending = storage::pending_migrations(&mut conn).unwrap();
    assert_eq!(pending.len(), MIGRATIONS, "{pending:?}");
    assert_eq!(storage::run_migrations(&mut conn).unwrap(), pending);
    assert!(storage::run_migrations(&mut conn).unwrap().is_empty());
    assert!(storage::pending_migrations(&mut conn).unwrap().is_empty());
    // Another pool, as a restarted server would have.
    let again = db.database();
    assert!(storage::run_migrations(&mut again.get().unwrap())
        .unwrap()
        .is_empty());

    let head = audit_head(&mut conn, SYSTEM_CHAIN).unwrap();
    assert_eq!((head.seq, head.hash.as_str()), (0, GENESIS_HASH));
    let v = verify_chain(&mut conn, SYSTEM_CHAIN, None).unwrap();
    assert!(v.valid);
    assert_eq!((v.entries, v.head.as_str()), (0, GENESIS_HASH));
}

fn concurrent_migrations_on_a_fresh_database(db: TestDb) {
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let url = db.url.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut conn = storage::establish(&url).unwrap();
                barrier.wait();
                storage::run_migrations(&mut conn)
            })
        })
        .collect();
    let mut applied = Vec::new();
    for handle in handles {
        applied.extend(handle.join().unwrap().expect("every migrator succeeds"));
    }
    applied.sort();
    let mut conn = db.connection();
    assert!(storage::pending_migrations(&mut conn).unwrap().is_empty());
    // Each migration ran exactly once.
    assert_eq!(applied.len(), MIGRATIONS, "{applied:?}");
    applied.dedup();
    assert_eq!(applied.len(), MIGRATIONS, "{applied:?}");
    assert_eq!(audit_head(&mut conn, SYSTEM_CHAIN).unwrap().seq, 0);
}

fn down_migrations_restore_the_schema(db: TestDb) {
    let mut conn = db.connection();
    let empty = schema_dump(&mut conn);
    storage::run_migrations(&mut conn).unwrap();
    let full = schema_dump(&mut conn);
    assert!(full.len() > 10, "{full:#?}");
    // Revert k migrations, re-apply, compare.
    for k in 1..=MIGRATIONS {
        for _ in 0..k {
            storage::revert_last_migration(&mut conn).unwrap();
        }
        assert_eq!(storage::run_migrations(&mut conn).unwrap().len(), k);
        assert_eq!(schema_dump(&mut conn), full, "after reverting {k}");
    }
    assert_eq!(
        storage::revert_all_migrations(&mut conn).unwrap().len(),
        MIGRATIONS
    );
    let reverted: Vec<String> = schema_dump(&mut conn)
        .into_iter()
        .filter(|l| !l.contains("__diesel_schema_migrations"))
        .collect();
    let empty: Vec<String> = empty
        .into_iter()
        .filter(|l| !l.contains("__diesel_schema_migrations"))
        .collect();
    assert_eq!(reverted, empty);
    storage::run_migrations(&mut conn).unwrap();
    assert_eq!(schema_dump(&mut conn), full);
}

both_backends!(
    migrations_apply_and_are_idempotent,
    concurrent_migrations_on_a_fresh_database,
    down_migrations_restore_the_schema,
);

// ---------------------------------------------------------------------------------------------
// Connections and pool

#[derive(QueryableByName)]
struct TextValue {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct IntValue {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

fn sqlite_pragma(conn: &mut DbConnection, pragma: &str) -> String {
    // pragma_* table-valued functions read the connection's current setting.
    let sqlite = common::sqlite(conn);
    if pragma == "journal_mode" {
        diesel::sql_query("PRAGMA journal_mode")
            .load::<JournalMode>(sqlite)
            .unwrap()
            .remove(0)
            .journal_mode
    } else {
        diesel::sql_query(format!("SELECT {pragma} AS value FROM pragma_{pragma}()"))
            .load::<IntValue>(sqlite)
            .unwrap()
            .remove(0)
            .value
            .to_string()
    }
}

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

fn settings_hold_on_every_pooled_connection(db: TestDb) {
    let database = db.database_with(PoolOptions {
        max_size: 4,
        connection_timeout: Duration::from_secs(10),
    });
    assert_eq!(database.backend(), db.backend);
    for round in 0..2 {
        // Four distinct connections at once (the pool opens three of them lazily).
        let mut held: Vec<_> = (0..4).map(|_| database.get().unwrap()).collect();
        for conn in &mut held {
            match db.backend {
                Backend::Sqlite => {
                    assert_eq!(sqlite_pragma(conn, "journal_mode"), "wal", "round {round}");
                    assert_eq!(sqlite_pragma(conn, "synchronous"), "2");
                    assert_eq!(sqlite_pragma(conn, "foreign_keys"), "1");
                    let timeout: Vec<IntValue> =
                        diesel::sql_query("SELECT timeout AS value FROM pragma_busy_timeout()")
                            .load(common::sqlite(conn))
                            .unwrap();
                    assert_eq!(timeout[0].value, i64::from(storage::SQLITE_BUSY_TIMEOUT_MS));
                }
                Backend::Postgres => {
                    let DbConnection::Postgres(pg) = &mut **conn else {
                        panic!("expected PostgreSQL");
                    };
                    let level: Vec<TextValue> = diesel::sql_query(
                        "SELECT current_setting('transaction_isolation') AS value",
                    )
                    .load(pg)
                    .unwrap();
                    assert_eq!(level[0].value, "read committed");
                }
            }
        }
    }
}

fn pool_timeout_is_unavailable(db: TestDb) {
    let database = db.database_with(PoolOptions {
        max_size: 1,
        connection_timeout: Duration::from_millis(300),
    });
    let _held = database.get().unwrap();
    let start = Instant::now();
    let error = database.get().err().expect("pool is exhausted");
    assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
    assert!(error.is_unavailable());
    assert!(start.elapsed() >= Duration::from_millis(250));
}

both_backends!(
    settings_hold_on_every_pooled_connection,
    pool_timeout_is_unavailable,
);

#[test]
fn unreachable_postgres_is_unavailable() {
    let url = "postgres://postgres@127.0.0.1:1/test";
    let start = Instant::now();
    let error = Database::connect(
        url,
        PoolOptions {
            max_size: 2,
            connection_timeout: Duration::from_secs(2),
        },
    )
    .expect_err("nothing listens on port 1");
    assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
    assert!(start.elapsed() < Duration::from_secs(2), "fails fast");
    assert!(matches!(
        storage::establish(url).err(),
        Some(StorageError::Unavailable(_))
    ));
}

#[test]
fn bad_url_schemes_are_refused_by_name() {
    for (url, needle) in [
        ("mysql://root:pw@localhost/trialgate", "`mysql:`"),
        ("postgres:trial.db", "postgres://"),
        ("trialgate.sqlite3", "no scheme"),
    ] {
        match Database::connect(url, PoolOptions::default()) {
            Err(StorageError::InvalidUrl(message)) => {
                assert!(message.contains(needle), "{url}: {message}");
                assert!(!message.contains("pw"));
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[test]
fn sqlite_parent_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/trialgate.db");
    let database = Database::connect(
        &format!("sqlite://{}", path.display()),
        PoolOptions::default(),
    )
    .unwrap();
    storage::run_migrations(&mut database.get().unwrap()).unwrap();
    assert!(path.exists());
    // A plain `.db` path works too.
    let plain = dir.path().join("c/plain.db");
    storage::establish(plain.to_str().unwrap()).unwrap();
    assert!(plain.exists());
}

/// SQLite files are created 0600 (the WAL and shared-memory files take the database file's
/// mode), and a database file left readable by others is made private when opened.
#[cfg(unix)]
#[test]
fn sqlite_files_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trialgate.db");
    let database = Database::connect(
        &format!("sqlite://{}", path.display()),
        PoolOptions::default(),
    )
    .unwrap();
    let mut conn = database.get().unwrap();
    storage::run_migrations(&mut conn).unwrap();
    append(&mut conn, SYSTEM_CHAIN, 1);
    for file in ["trialgate.db", "trialgate.db-wal", "trialgate.db-shm"] {
        let p = dir.path().join(file);
        assert!(p.exists(), "{file}");
        assert_eq!(mode(&p), 0o600, "{file}");
    }
    // One-shot connections too, and an older file that others could read.
    let old = dir.path().join("old.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    storage::establish(old.to_str().unwrap()).unwrap();
    assert_eq!(mode(&old), 0o600);
    let fresh = dir.path().join("fresh.db");
    storage::establish(fresh.to_str().unwrap()).unwrap();
    assert_eq!(mode(&fresh), 0o600);
    // A backup is as private as the database.
    let copy = dir.path().join("backup.db");
    storage::backup_sqlite(&mut conn, &copy).unwrap();
    assert_eq!(mode(&copy), 0o600);
}

// ---------------------------------------------------------------------------------------------
// Audit chain

fn audit_updates_and_deletes_are_refused(db: TestDb) {
    let database = db.migrated();
    let mut conn = database.get().unwrap();
    let entry = append(&mut conn, SYSTEM_CHAIN, 1);

    let update = diesel::update(audit_entries::table)
        .set(audit_entries::actor.eq("mallory"))
        .execute(&mut *conn)
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = diesel::delete(audit_entries::table)
        .execute(&mut *conn)
        .unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    if db.backend == Backend::Postgres {
        let truncate = execute(&mut conn, "TRUNCATE audit_entries CASCADE").unwrap_err();
        assert!(truncate.to_string().contains("append-only"), "{truncate}");
    }
    // The head only advances through appends.
    assert!(diesel::delete(audit_heads::table)
        .execute(&mut *conn)
        .is_err());
    assert!(diesel::update(audit_heads::table)
        .set(audit_heads::seq.eq(7))
        .execute(&mut *conn)
        .is_err());
    // An entry that does not extend the head is refused.
    let forged = diesel::insert_into(audit_entries::table)
        .values(NewAuditEntry {
            chain: SYSTEM_CHAIN,
            seq: 5,
            at: now(),
            actor: "mallory",
            role: "admin",
            action: "x",
            record: "{}",
            prev_hash: GENESIS_HASH,
            hash: GENESIS_HASH,
        })
        .execute(&mut *conn)
        .unwrap_err();
    assert!(forged.to_string().contains("extend"), "{forged}");

    let stored = read_audit(&mut conn, SYSTEM_CHAIN, 0, 10).unwrap();
    assert_eq!(stored, vec![entry]);
    assert!(verify_chain(&mut conn, SYSTEM_CHAIN, None).unwrap().valid);
}

fn parallel_appends_form_a_gapless_chain(db: TestDb) {
    let database = db.migrated();
    let chain = "NCT-PARALLEL";
    create_chain(&mut database.get().unwrap(), chain).unwrap();
    let (threads, per_thread) = (8, 50);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let database = database.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || -> Result<(), StorageError> {
                barrier.wait();
                for i in 0..per_thread {
                    let mut conn = database.get()?;
                    write_transaction(&mut conn, |c| {
                        let mut head = lock_chain_head(c, chain)?;
                        append_audit(
                            c,
                            &mut head,
                            now(),
                            &format!("user{t}"),
                            Some(Role::Pharmacist),
                            Action::UserRevoked,
                            json!({ "thread": t, "i": i }),
                        )
                    })?;
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().expect("no append fails");
    }
    let mut conn = database.get().unwrap();
    let total = (threads * per_thread) as i64;
    let entries = read_audit(&mut conn, chain, 0, 1_000).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let events: BTreeSet<(u64, u64)> = entries
        .iter()
        .map(|e| {
            let record: serde_json::Value = serde_json::from_str(&e.record).unwrap();
            (
                record["data"]["thread"].as_u64().unwrap(),
                record["data"]["i"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(events.len(), threads * per_thread);
    let head = audit_head(&mut conn, chain).unwrap();
    assert_eq!(head.seq, total);
    let v = verify_chain(&mut conn, chain, Some(&head.hash)).unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.entries, total as u64);
    assert_eq!(v.head, head.hash);
}

fn audit_api_behaviour(db: TestDb) {
    let database = db.migrated();
    let mut conn = database.get().unwrap();
    let chain = "NCT-API";

    // Unknown chain, duplicate chain.
    let unknown = write_transaction(&mut conn, |c| {
        let mut head = lock_chain_head(c, chain)?;
        append_audit(
            c,
            &mut head,
            now(),
            "a",
            Some(Role::Admin),
            Action::UserRevoked,
            json!(null),
        )
    })
    .unwrap_err();
    assert!(matches!(unknown, StorageError::UnknownChain(ref c) if c == chain));
    assert!(matches!(
        audit_head(&mut conn, chain),
        Err(StorageError::UnknownChain(_))
    ));
    assert!(matches!(
        verify_chain(&mut conn, chain, None),
        Err(StorageError::UnknownChain(_))
    ));
    create_chain(&mut conn, chain).unwrap();
    let duplicate = create_chain(&mut conn, chain).unwrap_err();
    assert_eq!(
        duplicate.constraint(),
        Some(constraints::AUDIT_HEADS_PKEY),
        "{duplicate:?}"
    );

    // Entries are exactly what `audit` builds; times survive the round trip.
    let at = NaiveDate::from_ymd_opt(2026, 11, 20)
        .unwrap()
        .and_hms_nano_opt(8, 30, 0, 123_456_789)
        .unwrap();
    let first = write_transaction(&mut conn, |c| {
        let mut head = lock_chain_head(c, chain)?;
        append_audit(
            c,
            &mut head,
            at,
            "alice",
            Some(Role::Admin),
            Action::TrialInitialized,
            json!({"seed_commitment": "ab", "protocol_digest": "cd"}),
        )
    })
    .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    assert_eq!(
        first.record,
        r#"{"seq":1,"at":"2026-11-20T08:30:00.123456Z","actor":"alice","role":"admin","action":"trial.initialized","trial":"NCT-API","data":{"protocol_digest":"cd","seed_commitment":"ab"}}"#
    );
    assert_eq!(first.hash, audit::entry_hash(GENESIS_HASH, &first.record));
    for i in 2..=10 {
        append(&mut conn, chain, i);
    }
    let all = read_audit(&mut conn, chain, 0, 100).unwrap();
    assert_eq!(all[0], first);
    assert_eq!(all.len(), 10);
    let page = read_audit(&mut conn, chain, 3, 4).unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5, 6, 7]);
    assert!(read_audit(&mut conn, chain, 10, 5).unwrap().is_empty());
    // The other chain is untouched.
    assert_eq!(audit_head(&mut conn, SYSTEM_CHAIN).unwrap().seq, 0);

    // A failed transaction leaves no trace.
    let head = audit_head(&mut conn, chain).unwrap();
    let failed: Result<(), StorageError> = write_transaction(&mut conn, |c| {
        let mut head = lock_chain_head(c, chain)?;
        append_audit(
            c,
            &mut head,
            now(),
            "a",
            Some(Role::Admin),
            Action::UserRevoked,
            json!(null),
        )?;
        Err(StorageError::Integrity("caller gave up".into()))
    });
    assert!(failed.is_err());
    assert_eq!(audit_head(&mut conn, chain).unwrap(), head);

    // Not nestable.
    let nested = write_transaction(&mut conn, |c| {
        write_transaction(c, |_| Ok::<_, StorageError>(()))
    });
    assert!(nested.is_err());

    let v = verify_chain(&mut conn, chain, Some(&head.hash)).unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.entries, 10);
    // Inside a caller's transaction verify_chain uses that transaction.
    let inside = write_transaction(&mut conn, |c| verify_chain(c, chain, None)).unwrap();
    assert!(inside.valid);
}

both_backends!(
    audit_updates_and_deletes_are_refused,
    parallel_appends_form_a_gapless_chain,
    audit_api_behaviour,
);

// ---------------------------------------------------------------------------------------------
// Tampering (triggers dropped, as by a malicious administrator)

const TAMPER_CHAIN: &str = "NCT-TAMPER";

/// A migrated database with a 10-entry chain and no audit triggers.
fn tampered(db: &TestDb) -> (Database, Vec<AuditEntry>) {
    let database = db.migrated();
    let mut conn = database.get().unwrap();
    create_chain(&mut conn, TAMPER_CHAIN).unwrap();
    let entries = (1..=10)
        .map(|i| append(&mut conn, TAMPER_CHAIN, i))
        .collect();
    drop_audit_triggers(&mut conn);
    assert!(verify_chain(&mut conn, TAMPER_CHAIN, None).unwrap().valid);
    (database, entries)
}

fn set_seq(conn: &mut DbConnection, from: i64, to: i64) {
    diesel::update(
        audit_entries::table
            .filter(audit_entries::chain.eq(TAMPER_CHAIN))
            .filter(audit_entries::seq.eq(from)),
    )
    .set(audit_entries::seq.eq(to))
    .execute(conn)
    .unwrap();
}

fn delete_seq(conn: &mut DbConnection, seq: i64) {
    let n = diesel::delete(
        audit_entries::table
            .filter(audit_entries::chain.eq(TAMPER_CHAIN))
            .filter(audit_entries::seq.eq(seq)),
    )
    .execute(conn)
    .unwrap();
    assert_eq!(n, 1);
}

fn insert_entry(conn: &mut DbConnection, e: &audit::Entry) {
    diesel::insert_into(audit_entries::table)
        .values(NewAuditEntry {
            chain: TAMPER_CHAIN,
            seq: e.seq,
            at: e.at,
            actor: &e.actor,
            role: &e.role,
            action: &e.action,
            record: &e.record,
            prev_hash: &e.prev_hash,
            hash: &e.hash,
        })
        .execute(conn)
        .unwrap();
}

fn set_head(conn: &mut DbConnection, seq: i64, hash: &str) {
    diesel::update(audit_heads::table.find(TAMPER_CHAIN))
        .set((audit_heads::seq.eq(seq), audit_heads::hash.eq(hash)))
        .execute(conn)
        .unwrap();
}

fn forged(seq: i64, prev_hash: &str) -> audit::Entry {
    audit::next_entry(
        seq - 1,
        prev_hash,
        now(),
        "mallory",
        "pharmacist",
        // Not a row-bearing action: these tests are about the chain's own defects (a forged
        // `subject.randomized` without its row is also a row mismatch; see tests/api/tables.rs).
        "test.entry",
        TAMPER_CHAIN,
        &json!({"arm": "SFRT_SCART"}),
    )
    .unwrap()
}

fn assert_invalid(conn: &mut DbConnection, expected: Option<&str>, seq: i64, defect: Defect) {
    let v = verify_chain(conn, TAMPER_CHAIN, expected).unwrap();
    assert!(!v.valid, "{v:?}");
    assert_eq!(v.first_invalid_seq, Some(seq), "{v:?}");
    assert_eq!(v.defect, Some(defect), "{v:?}");
}

fn tamper_edit_record(db: TestDb) {
    let (database, entries) = tampered(&db);
    let mut conn = database.get().unwrap();
    let edited = entries[4].record.replace("\"i\":5", "\"i\":55");
    diesel::update(
        audit_entries::table
            .filter(audit_entries::chain.eq(TAMPER_CHAIN))
            .filter(audit_entries::seq.eq(5)),
    )
    .set(audit_entries::record.eq(edited))
    .execute(&mut *conn)
    .unwrap();
    assert_invalid(&mut conn, None, 5, Defect::HashMismatch);
}

fn tamper_edit_column(db: TestDb) {
    let (database, _) = tampered(&db);
    let mut conn = database.get().unwrap();
    diesel::update(
        audit_entries::table
            .filter(audit_entries::chain.eq(TAMPER_CHAIN))
            .filter(audit_entries::seq.eq(5)),
    )
    .set(audit_entries::actor.eq("someone-else"))
    .execute(&mut *conn)
    .unwrap();
    assert_invalid(&mut conn, None, 5, Defect::RecordMismatch);
}

fn tamper_delete_middle(db: TestDb) {
    let (database, _) = tampered(&db);
    let mut conn = database.get().unwrap();
    delete_seq(&mut conn, 5);
    assert_invalid(&mut conn, None, 5, Defect::SeqGap);
}

fn tamper_delete_last(db: TestDb) {
    let (database, entries) = tampered(&db);
    let mut conn = database.get().unwrap();
    let recorded_head = entries[9].hash.clone();
    delete_seq(&mut conn, 10);
    // The stored head still names entry 10.
    assert_invalid(&mut conn, None, 10, Defect::HeadMismatch);
    // Covering tracks in audit_heads and the Merkle log too: only an externally recorded
    // head (or a saved signed tree) tells.
    set_head(&mut conn, 9, &entries[8].hash);
    let v = verify_chain(&mut conn, TAMPER_CHAIN, None).unwrap();
    assert_eq!(v.defect, Some(Defect::LogMismatch), "{v:?}");
    rewrite_log(&mut conn, TAMPER_CHAIN);
    execute(
        &mut conn,
        &format!("DELETE FROM merkle_nodes WHERE chain = '{TAMPER_CHAIN}' AND seq > 9"),
    )
    .unwrap();
    execute(
        &mut conn,
        &format!("UPDATE audit_heads SET log_size = 9 WHERE chain = '{TAMPER_CHAIN}'"),
    )
    .unwrap();
    let v = verify_chain(&mut conn, TAMPER_CHAIN, None).unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.entries, 9);
    assert_invalid(
        &mut conn,
        Some(&recorded_head),
        10,
        Defect::ExpectedHeadNotFound,
    );
    // An older recorded head is still fine.
    assert!(
        verify_chain(&mut conn, TAMPER_CHAIN, Some(&entries[5].hash))
            .unwrap()
            .valid
    );
}

fn tamper_insert_forged(db: TestDb) {
    let (database, entries) = tampered(&db);
    let mut conn = database.get().unwrap();
    // Appended with a made-up hash.
    let mut bogus = forged(11, &entries[9].hash);
    bogus.hash = "ab".repeat(32);
    insert_entry(&mut conn, &bogus);
    assert_invalid(&mut conn, None, 11, Defect::HashMismatch);
    delete_seq(&mut conn, 11);
    // Appended with a correct hash, but the head row was not moved.
    insert_entry(&mut conn, &forged(11, &entries[9].hash));
    assert_invalid(&mut conn, None, 11, Defect::HeadMismatch);
    delete_seq(&mut conn, 11);
    assert!(verify_chain(&mut conn, TAMPER_CHAIN, None).unwrap().valid);
    // Inserted in the middle (later entries shifted up): the shifted entry breaks.
    for seq in (6..=10).rev() {
        set_seq(&mut conn, seq, seq + 1);
    }
    insert_entry(&mut conn, &forged(6, &entries[4].hash));
    // The chain breaks at 7 (its prev_hash no longer links); the Merkle log already at 6,
    // whose leaf is not the forged entry's.
    let v = verify_chain(&mut conn, TAMPER_CHAIN, None).unwrap();
    assert_eq!(
        (v.first_invalid_seq, v.defect),
        (Some(6), Some(Defect::LogMismatch)),
        "{v:?}"
    );
}

fn tamper_reorder(db: TestDb) {
    let (database, _) = tampered(&db);
    let mut conn = database.get().unwrap();
    set_seq(&mut conn, 3, 1_000);
    set_seq(&mut conn, 4, 3);
    set_seq(&mut conn, 1_000, 4);
    assert_invalid(&mut conn, None, 3, Defect::PrevHashMismatch);
}

both_backends!(
    tamper_edit_record,
    tamper_edit_column,
    tamper_delete_middle,
    tamper_delete_last,
    tamper_insert_forged,
    tamper_reorder,
);

// ---------------------------------------------------------------------------------------------
// Tables and row structs

fn rows_round_trip_and_constraints_hold(db: TestDb) {
    let database = db.migrated();
    let mut conn = database.get().unwrap();
    let t = now();
    let trial = NewTrial {
        id: "NCT06987370",
        title: "SFRT and SCART",
        protocol_json: "{}",
        protocol_digest: "d",
        algorithm: "trialgate/v1",
        seed_commitment: "c",
        status: TrialStatus::Open,
        cap: 90,
        created_at: t,
        closed_at: None,
        close_reason: None,
    };
    write_transaction(&mut conn, |c| -> Result<(), StorageError> {
        diesel::insert_into(trials::table)
            .values(&trial)
            .execute(c)?;
        create_chain(c, trial.id)?;
        diesel::insert_into(trialgate::storage::schema::users::table)
            .values(NewUser {
                name: "phil",
                role: Role::Pharmacist,
                sites: r#"["SITE01"]"#,
                created_at: t,
            })
            .execute(c)?;
        diesel::insert_into(trialgate::storage::schema::tokens::table)
            .values(NewToken {
                token_hash: &"e".repeat(64),
                user_name: "phil",
                created_at: t,
            })
            .execute(c)?;
        Ok(())
    })
    .unwrap();
    let loaded: Trial = trials::table
        .find("NCT06987370")
        .select(Trial::as_select())
        .first(&mut *conn)
        .unwrap();
    assert_eq!(loaded.created_at, t);
    assert!(!loaded.seed_revealed);
    assert_eq!(loaded.cap, 90);
    let user: User = trialgate::storage::schema::users::table
        .find("phil")
        .select(User::as_select())
        .first(&mut *conn)
        .unwrap();
    assert_eq!((user.role, user.revoked_at), (Role::Pharmacist, None));
    let token: Token = trialgate::storage::schema::tokens::table
        .select(Token::as_select())
        .first(&mut *conn)
        .unwrap();
    assert_eq!(token.user_name, "phil");

    let screening = NewScreening {
        id: "scr-1",
        trial_id: "NCT06987370",
        patient_ref: "SITE01-0007",
        site: "SITE01",
        outcome: Outcome::Eligible,
        input_json: "{}",
        result_json: "{}",
        screening_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        screened_at: t,
        screened_by: "ivy",
        audit_seq: 1,
        stratum_key: Some(""),
        protocol_version: 1,
        corrects: None,
        correction_status: None,
        correction_reason: None,
        idempotency_key: None,
        request_fingerprint: None,
    };
    diesel::insert_into(trialgate::storage::schema::screenings::table)
        .values(&screening)
        .execute(&mut *conn)
        .unwrap();
    let loaded: Screening = trialgate::storage::schema::screenings::table
        .find("scr-1")
        .select(Screening::as_select())
        .first(&mut *conn)
        .unwrap();
    assert_eq!(loaded.screening_date, screening.screening_date);
    let subject = NewSubject {
        id: "sub-1",
        trial_id: "NCT06987370",
        sequence: 1,
        screening_id: "scr-1",
        patient_ref: "SITE01-0007",
        site: "SITE01",
        stratum_key: "",
        stratum_position: 0,
        arm: "SFRT_SCART",
        randomized_at: t,
        randomized_by: "phil",
        status: SubjectStatus::OnStudy,
        withdrawn_at: None,
        withdrawn_by: None,
        withdrawal_reason: None,
        audit_seq: 2,
        idempotency_key: Some("key-1"),
        request_fingerprint: Some("fp"),
        randomization_signature: None,
    };
    diesel::insert_into(subjects::table)
        .values(&subject)
        .execute(&mut *conn)
        .unwrap();
    let loaded: Subject = subjects::table
        .find("sub-1")
        .select(Subject::as_select())
        .first(&mut *conn)
        .unwrap();
    assert_eq!(loaded.stratum_position, 0);
    assert_eq!(loaded.idempotency_key.as_deref(), Some("key-1"));
    assert_eq!(loaded.randomized_at, t);

    let conflict = |conn: &mut DbConnection, s: NewSubject<'_>| -> StorageError {
        StorageError::from(
            diesel::insert_into(subjects::table)
                .values(&s)
                .execute(conn)
                .unwrap_err(),
        )
    };
    let other = NewSubject {
        id: "sub-2",
        sequence: 2,
        patient_ref: "SITE01-0008",
        stratum_position: 1,
        idempotency_key: Some("key-2"),
        ..subject.clone()
    };
    for (change, constraint) in [
        (
            NewSubject {
                patient_ref: "SITE01-0007",
                ..other.clone()
            },
            constraints::SUBJECTS_TRIAL_SITE_PATIENT,
        ),
        (
            NewSubject {
                sequence: 1,
                ..other.clone()
            },
            constraints::SUBJECTS_TRIAL_SEQUENCE,
        ),
        (
            NewSubject {
                stratum_position: 0,
                ..other.clone()
            },
            constraints::SUBJECTS_TRIAL_STRATUM_POSITION,
        ),
        (
            NewSubject {
                idempotency_key: Some("key-1"),
                ..other.clone()
            },
            constraints::SUBJECTS_IDEMPOTENCY,
        ),
        (
            NewSubject {
                id: "sub-1",
                ..other.clone()
            },
            constraints::SUBJECTS_PKEY,
        ),
    ] {
        let error = conflict(&mut conn, change);
        assert_eq!(error.constraint(), Some(constraint), "{error:?}");
    }
    // NULL idempotency keys never collide.
    for (i, id) in ["sub-3", "sub-4"].into_iter().enumerate() {
        let i = i as i64;
        diesel::insert_into(subjects::table)
            .values(NewSubject {
                id,
                sequence: 10 + i,
                patient_ref: if i == 0 { "P-A" } else { "P-B" },
                stratum_position: 10 + i,
                idempotency_key: None,
                ..subject.clone()
            })
            .execute(&mut *conn)
            .unwrap();
    }
    // A patient is (trial, site, patient_ref): another site's patient may carry the same ref.
    diesel::insert_into(subjects::table)
        .values(NewSubject {
            id: "sub-5",
            sequence: 20,
            site: "SITE02",
            patient_ref: "SITE01-0007",
            stratum_position: 20,
            idempotency_key: None,
            ..subject.clone()
        })
        .execute(&mut *conn)
        .unwrap();
    // Subject rows change only by an audited withdrawal, and are never deleted.
    for sql in [
        "UPDATE subjects SET arm = 'CRT' WHERE id = 'sub-1'",
        "UPDATE subjects SET status = 'withdrawn', withdrawn_at = randomized_at, \
         withdrawn_by = 'ivy', withdrawal_reason = 'no entry' WHERE id = 'sub-1'",
        "DELETE FROM subjects WHERE id = 'sub-1'",
        "DELETE FROM screenings WHERE id = 'scr-1'",
        "UPDATE screenings SET outcome = 'ineligible' WHERE id = 'scr-1'",
    ] {
        let refused = diesel::sql_query(sql).execute(&mut *conn);
        assert!(refused.is_err(), "{sql} was accepted");
    }
    // Foreign keys (on for SQLite too) and CHECK constraints are not conflicts.
    let fk = conflict(
        &mut conn,
        NewSubject {
            trial_id: "NO-SUCH-TRIAL",
            ..other.clone()
        },
    );
    assert!(matches!(fk, StorageError::Database(_)), "{fk:?}");
    // (A status outside the CHECK cannot be written through the typed row struct.)
    let check = StorageError::from(
        diesel::sql_query(
            "INSERT INTO subjects (id, trial_id, sequence, screening_id, patient_ref, site, \
             stratum_key, stratum_position, arm, randomized_at, randomized_by, status, audit_seq) \
             VALUES ('sub-2', 'NCT06987370', 2, 'scr-1', 'SITE01-0008', 'SITE01', '', 1, \
             'SFRT_SCART', '2026-11-20 08:30:00', 'phil', 'lost', 2)",
        )
        .execute(&mut *conn)
        .unwrap_err(),
    );
    assert!(matches!(check, StorageError::Database(_)), "{check:?}");
    diesel::insert_into(subjects::table)
        .values(&other)
        .execute(&mut *conn)
        .unwrap();
}

both_backends!(rows_round_trip_and_constraints_hold);

/// Every variant of the TEXT-stored enums reads back as written; a value outside them is
/// refused by the CHECK constraints and, written past them, reads back as an error.
fn stored_enums_round_trip_and_unknown_text_is_an_error(db: TestDb) {
    let database = db.migrated();
    let mut conn = database.get().unwrap();
    let t = now();
    for (i, role) in Role::ALL.into_iter().enumerate() {
        storage::repo::users::insert(&mut conn, &format!("user{i}"), role, &[], t).unwrap();
    }
    let roles: Vec<Role> = storage::repo::users::list(&mut conn)
        .unwrap()
        .into_iter()
        .map(|u| u.role)
        .collect();
    assert_eq!(roles.len(), Role::ALL.len());
    assert!(Role::ALL.iter().all(|r| roles.contains(r)), "{roles:?}");

    for status in TrialStatus::ALL {
        let id = format!("T-{}", status.as_str());
        diesel::insert_into(trials::table)
            .values(NewTrial {
                id: &id,
                title: "t",
                protocol_json: "{}",
                protocol_digest: "d",
                algorithm: "trialgate/v1",
                seed_commitment: "c",
                status,
                cap: 10,
                created_at: t,
                closed_at: None,
                close_reason: None,
            })
            .execute(&mut *conn)
            .unwrap();
        let loaded = storage::repo::trials::get(&mut conn, &id).unwrap().unwrap();
        assert_eq!(loaded.status, status);
        // Filtering on the typed column binds the same text.
        let n: i64 = trials::table
            .filter(trials::status.eq(status))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(n, 1);
    }

    for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
        let id = format!("scr-{i}");
        diesel::insert_into(trialgate::storage::schema::screenings::table)
            .values(NewScreening {
                id: &id,
                trial_id: "T-open",
                patient_ref: &format!("SITE01-000{i}"),
                site: "SITE01",
                outcome,
                input_json: "{}",
                result_json: "{}",
                screening_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
                screened_at: t,
                screened_by: "ivy",
                audit_seq: i as i64 + 1,
                stratum_key: None,
                protocol_version: 1,
                corrects: None,
                correction_status: None,
                correction_reason: None,
                idempotency_key: None,
                request_fingerprint: None,
            })
            .execute(&mut *conn)
            .unwrap();
        let loaded: Screening = trialgate::storage::schema::screenings::table
            .find(&id)
            .select(Screening::as_select())
            .first(&mut *conn)
            .unwrap();
        assert_eq!(loaded.outcome, outcome);
    }

    for (i, status) in SubjectStatus::ALL.into_iter().enumerate() {
        let id = format!("sub-{i}");
        let withdrawn = status == SubjectStatus::Withdrawn;
        diesel::insert_into(subjects::table)
            .values(NewSubject {
                id: &id,
                trial_id: "T-open",
                sequence: i as i64 + 1,
                screening_id: "scr-0",
                patient_ref: &format!("SITE01-001{i}"),
                site: "SITE01",
                stratum_key: "",
                stratum_position: i as i64,
                arm: "A",
                randomized_at: t,
                randomized_by: "phil",
                status,
                withdrawn_at: withdrawn.then_some(t),
                withdrawn_by: withdrawn.then_some("phil"),
                withdrawal_reason: withdrawn.then_some("moved away"),
                audit_seq: 10 + i as i64,
                idempotency_key: None,
                request_fingerprint: None,
                randomization_signature: None,
            })
            .execute(&mut *conn)
            .unwrap();
        let loaded = storage::repo::subjects::get(&mut conn, "T-open", &id)
            .unwrap()
            .unwrap();
        assert_eq!(loaded.status, status);
    }

    // The CHECK constraints refuse text no variant names…
    let bad_user = "INSERT INTO users (name, role, sites, created_at) \
                    VALUES ('root', 'root', '[]', '2026-11-20 08:30:00')";
    let bad_trial = "INSERT INTO trials (id, title, protocol_json, protocol_digest, algorithm, \
                     seed_commitment, status, cap, created_at) VALUES ('T-paused', 't', '{}', \
                     'd', 'trialgate/v1', 'c', 'paused', 10, '2026-11-20 08:30:00')";
    for sql in [bad_user, bad_trial] {
        assert!(
            diesel::sql_query(sql).execute(&mut *conn).is_err(),
            "{sql} was accepted"
        );
    }
    // …and when someone writes it anyway (past the CHECKs), reading it is an error, not a panic.
    use diesel::connection::SimpleConnection;
    match &mut *conn {
        DbConnection::Sqlite(c) => c
            .batch_execute("PRAGMA ignore_check_constraints = ON")
            .unwrap(),
        DbConnection::Postgres(c) => c
            .batch_execute(
                "ALTER TABLE users DROP CONSTRAINT users_role_check;
                 ALTER TABLE trials DROP CONSTRAINT trials_status_check;",
            )
            .unwrap(),
    }
    for sql in [bad_user, bad_trial] {
        diesel::sql_query(sql).execute(&mut *conn).unwrap();
    }
    let users = storage::repo::users::list(&mut conn);
    let err = users.expect_err("an unknown role was read back");
    assert!(
        format!("{err:?}").contains("unknown role \\\"root\\\""),
        "{err:?}"
    );
    let trial = storage::repo::trials::get(&mut conn, "T-paused");
    let err = trial.expect_err("an unknown trial status was read back");
    assert!(
        format!("{err:?}").contains("unknown trial status \\\"paused\\\""),
        "{err:?}"
    );
    // The rows that are valid still read.
    assert_eq!(
        storage::repo::trials::get(&mut conn, "T-open")
            .unwrap()
            .map(|t| t.status),
        Some(TrialStatus::Open)
    );
}

both_backends!(stored_enums_round_trip_and_unknown_text_is_an_error);

// ---------------------------------------------------------------------------------------------
// Scale (ignored by default): `cargo test --release --test storage -- --ignored --nocapture`

fn verify_a_million_stored_entries(db: TestDb) {
    let n: i64 = std::env::var("TRIALGATE_SCALE_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let database = db.migrated();
    let mut conn = database.get().unwrap();
    let chain = "NCT-SCALE";
    create_chain(&mut conn, chain).unwrap();
    drop_audit_triggers(&mut conn); // bulk load without per-row head checks
    let start = Instant::now();
    let mut head = (0i64, GENESIS_HASH.to_owned());
    let t0 = now();
    while head.0 < n {
        let batch: Vec<audit::Entry> = (0..1_000.min(n - head.0))
            .map(|_| {
                let e = audit::next_entry(
                    head.0,
                    &head.1,
                    t0 + chrono::Duration::microseconds(head.0),
                    "pharmacist-01",
                    "pharmacist",
                    // Not a row-bearing action: this measures the chain alone, without a
                    // million subject rows for the table cross-check.
                    "subject.viewed",
                    chain,
                    &json!({"subject_id": format!("S-{:07}", head.0), "arm": "SFRT_SCART",
                            "sequence": head.0 + 1, "stratum_key": ""}),
                )
                .unwrap();
                head = (e.seq, e.hash.clone());
                e
            })
            .collect();
        let rows: Vec<NewAuditEntry<'_>> = batch
            .iter()
            .map(|e| NewAuditEntry {
                chain,
                seq: e.seq,
                at: e.at,
                actor: &e.actor,
                role: &e.role,
                action: &e.action,
                record: &e.record,
                prev_hash: &e.prev_hash,
                hash: &e.hash,
            })
            .collect();
        // Multi-row inserts do not compile for MultiConnection: use the concrete connection.
        write_transaction(&mut conn, |c| match c {
            DbConnection::Sqlite(c) => diesel::insert_into(audit_entries::table)
                .values(&rows)
                .execute(c),
            DbConnection::Postgres(c) => diesel::insert_into(audit_entries::table)
                .values(&rows)
                .execute(c),
        })
        .unwrap();
    }
    diesel::update(audit_heads::table.find(chain))
        .set((audit_heads::seq.eq(head.0), audit_heads::hash.eq(&head.1)))
        .execute(&mut *conn)
        .unwrap();
    eprintln!(
        "{:?}: loaded {n} entries in {:?}",
        db.backend,
        start.elapsed()
    );
    let start = Instant::now();
    let v = verify_chain(&mut conn, chain, Some(&head.1)).unwrap();
    eprintln!(
        "{:?}: verified {n} entries in {:?}",
        db.backend,
        start.elapsed()
    );
    assert!(v.valid, "{v:?}");
    assert_eq!(v.entries, n as u64);
}

mod scale {
    #[test]
    #[ignore = "scale; run in release"]
    fn sqlite() {
        super::verify_a_million_stored_entries(crate::common::TestDb::sqlite());
    }

    #[test]
    #[ignore = "scale; run in release"]
    fn postgres() {
        if let Some(db) = crate::common::TestDb::postgres() {
            super::verify_a_million_stored_entries(db);
        }
    }
}
