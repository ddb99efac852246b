//! Merkle log proofs at one million entries: `storage::log_inclusion`, `log_consistency` and
//! `log_root` against a stored 1M-leaf tree on SQLite and PostgreSQL, and the pure in-memory
//! tree (`MemoryTree`) for reference.
//!
//! `cargo bench --bench merkle`
//!
//! How the 1M-entry chain is built (quickly, not through a million transactions): proofs read
//! only `merkle_nodes` rows and the chain's head (`log_size`), never `audit_entries`. So the
//! bench creates the chain with `storage::create_chain`, computes the tree with `MemoryTree`
//! from synthetic leaves (a deterministic nonce and a short synthetic record per entry), and
//! inserts its ~2M nodes in large multi-row INSERTs inside one transaction. It then sets the
//! head's `seq`, `log_size` and `log_frontier` directly with SQL, after dropping the audit
//! triggers that only let the head advance to an appended entry (as
//! `tests/common/mod.rs::drop_audit_triggers` does). The head's `hash` and the chain's entries
//! are not real, so `verify` of this chain would fail; the bench never asks for it. Before
//! timing, the stored root and a proof are checked against the in-memory tree.
//!
//! * SQLite: the database is built once into `$CARGO_TARGET_TMPDIR/merkle-bench-1M.sqlite`
//!   and reused by later runs while its root still matches (`TRIALGATE_BENCH_REBUILD=1`
//!   rebuilds it).
//! * PostgreSQL: a fresh database `tg_bench_<uuid>` on `TRIALGATE_TEST_POSTGRES_URL`
//!   (default `postgres://postgres@127.0.0.1:5432/test`), dropped at the end; skipped with a
//!   note when no server is reachable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::PgConnection;
use sha2::{Digest, Sha256};
use trialgate::audit::merkle::{leaf_hash, verify_inclusion, Hash, MemoryTree, NodeSource};
use trialgate::storage::{self, DbConnection, Frontier};

const N: u64 = 1_000_000;
const CHAIN: &str = "bench-merkle-1M";
/// Rows per INSERT statement while building.
const BATCH: usize = 10_000;
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Synthetic entry `seq`: a deterministic nonce and a short record.
fn synthetic_leaf(seq: u64) -> ([u8; 32], Hash) {
    let nonce: [u8; 32] = Sha256::digest(format!("nonce {seq}")).into();
    let record = format!(r#"{{"seq":{seq},"action":"subject.randomized"}}"#);
    (nonce, leaf_hash(&nonce, record.as_bytes()))
}

/// The in-memory tree of the synthetic chain and the nonces of its leaves.
fn memory_tree() -> (MemoryTree, Vec<[u8; 32]>) {
    let mut tree = MemoryTree::new();
    let mut nonces = Vec::with_capacity(N as usize);
    for seq in 1..=N {
        let (nonce, leaf) = synthetic_leaf(seq);
        tree.append(leaf);
        nonces.push(nonce);
    }
    (tree, nonces)
}

fn execute(conn: &mut DbConnection, sql: &str) {
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute(sql),
        DbConnection::Postgres(c) => c.batch_execute(sql),
    }
    .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(200)]));
}

/// Drops the triggers that keep the head to real appends (tests/common's
/// `drop_audit_triggers`): the bench sets the head of its synthetic chain directly.
fn drop_audit_triggers(conn: &mut DbConnection) {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "DROP TRIGGER audit_entries_no_update;
             DROP TRIGGER audit_entries_no_delete;
             DROP TRIGGER audit_entries_extend_head;
             DROP TRIGGER audit_heads_start_empty;
             DROP TRIGGER audit_heads_advance;
             DROP TRIGGER audit_heads_no_delete;"
        }
        DbConnection::Postgres(_) => {
            "DROP TRIGGER audit_entries_no_update ON audit_entries;
             DROP TRIGGER audit_entries_no_delete ON audit_entries;
             DROP TRIGGER audit_entries_no_truncate ON audit_entries;
             DROP TRIGGER audit_entries_extend_head ON audit_entries;
             DROP TRIGGER audit_heads_start_empty ON audit_heads;
             DROP TRIGGER audit_heads_advance ON audit_heads;
             DROP TRIGGER audit_heads_no_delete ON audit_heads;
             DROP TRIGGER audit_heads_no_truncate ON audit_heads;"
        }
    };
    execute(conn, sql);
}

/// Writes the synthetic 1M-entry log into a migrated database, in one transaction.
fn build(conn: &mut DbConnection, tree: &MemoryTree, nonces: &[[u8; 32]]) {
    let started = Instant::now();
    drop_audit_triggers(conn);
    storage::create_chain(conn, CHAIN).unwrap();
    execute(conn, "BEGIN");
    // Every complete subtree: node (level, idx) covers leaves [idx·2^level, (idx+1)·2^level)
    // and was created by the append of its last leaf, entry (idx+1)·2^level.
    let mut sql = String::new();
    let mut rows = 0usize;
    let mut level = 0u32;
    while N >> level > 0 {
        for index in 0..N >> level {
            if rows == 0 {
                sql.push_str(
                    "INSERT INTO merkle_nodes (chain, level, idx, hash, nonce, seq) VALUES ",
                );
            } else {
                sql.push(',');
            }
            let nonce = if level == 0 {
                format!("'{}'", hex::encode(nonces[index as usize]))
            } else {
                "NULL".to_string()
            };
            let hash = hex::encode(tree.node(level, index).unwrap());
            let seq = (index + 1) << level;
            write!(sql, "('{CHAIN}',{level},{index},'{hash}',{nonce},{seq})").unwrap();
            rows += 1;
            if rows >= BATCH {
                execute(conn, &sql);
                sql.clear();
                rows = 0;
            }
        }
        level += 1;
    }
    if rows > 0 {
        execute(conn, &sql);
    }
    let frontier = Frontier::of(tree, N).unwrap();
    execute(
        conn,
        &format!(
            "UPDATE audit_heads SET seq = {N}, log_size = {N}, log_frontier = '{}' \
             WHERE chain = '{CHAIN}'",
            frontier.encode()
        ),
    );
    execute(conn, "COMMIT");
    if let DbConnection::Postgres(_) = conn {
        execute(conn, "ANALYZE merkle_nodes");
    }
    eprintln!(
        "built the 1M-entry log ({} rows) in {:.1} s",
        N * 2 - u64::from(N.count_ones()),
        started.elapsed().as_secs_f64()
    );
}

/// The stored log agrees with the in-memory tree: root, and one verified inclusion proof.
fn matches(conn: &mut DbConnection, tree: &MemoryTree) -> bool {
    let Ok(root) = storage::log_root(conn, CHAIN, N) else {
        return false;
    };
    if root != tree.root() {
        return false;
    }
    let index = 123_457;
    let Ok(proof) = storage::log_inclusion(conn, CHAIN, index, N) else {
        return false;
    };
    let leaf = synthetic_leaf(index + 1).1;
    proof == tree.inclusion_proof(index, N).unwrap()
        && verify_inclusion(&leaf, index, N, &proof, &root).is_ok()
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The cached SQLite database, built first if missing or stale.
fn sqlite_database(tree: &MemoryTree, nonces: &[[u8; 32]]) -> DbConnection {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("merkle-bench-1M.sqlite");
    let rebuild = std::env::var("TRIALGATE_BENCH_REBUILD").as_deref() == Ok("1");
    if cache.exists() && !rebuild {
        if let Ok(mut conn) = storage::establish(&sqlite_url(&cache)) {
            let current = storage::pending_migrations(&mut conn)
                .map(|p| p.is_empty())
                .unwrap_or(false);
            if current && matches(&mut conn, tree) {
                eprintln!("SQLite: reusing {}", cache.display());
                return conn;
            }
        }
    }
    // Build in a temporary directory next to the cache, then move it into place.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("merkle.sqlite");
    {
        let mut conn = storage::establish(&sqlite_url(&path)).unwrap();
        storage::run_migrations(&mut conn).unwrap();
        eprint!("SQLite: ");
        build(&mut conn, tree, nonces);
        execute(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", cache.display()));
    }
    std::fs::rename(&path, &cache).unwrap();
    let mut conn = storage::establish(&sqlite_url(&cache)).unwrap();
    assert!(matches(&mut conn, tree), "freshly built SQLite log");
    conn
}

/// A fresh PostgreSQL database, dropped with this value.
struct PostgresDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDb {
    fn create() -> Option<PostgresDb> {
        let admin_url = std::env::var("TRIALGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(error) => {
                let error = error.to_string();
                eprintln!(
                    "PostgreSQL not reachable ({}): PostgreSQL benchmarks NOT run",
                    error.split_whitespace().collect::<Vec<_>>().join(" ")
                );
                return None;
            }
        };
        let name = format!("tg_bench_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base.to_string(), format!("?{query}")),
            None => (admin_url.clone(), String::new()),
        };
        let authority = base.find("://").map_or(0, |i| i + 3);
        let prefix = match base[authority..].find('/') {
            Some(slash) => base[..authority + slash].to_string(),
            None => base.clone(),
        };
        let url = format!("{prefix}/{name}{query}");
        Some(PostgresDb {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A small deterministic generator for random indexes and sizes.
struct Random(Cell<u64>);

impl Random {
    fn below(&self, bound: u64) -> u64 {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        x % bound
    }
}

fn bench_store(c: &mut Criterion, name: &str, conn: &mut DbConnection) {
    let random = Random(Cell::new(0x9e37_79b9_7f4a_7c15));
    let mut group = c.benchmark_group(format!("merkle_1M_{name}"));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("log_inclusion", |b| {
        b.iter(|| storage::log_inclusion(conn, CHAIN, random.below(N), N).unwrap())
    });
    group.bench_function("log_consistency", |b| {
        b.iter(|| storage::log_consistency(conn, CHAIN, 1 + random.below(N - 1), N).unwrap())
    });
    group.bench_function("log_root", |b| {
        b.iter(|| storage::log_root(conn, CHAIN, N).unwrap())
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let started = Instant::now();
    let (tree, nonces) = memory_tree();
    eprintln!(
        "in-memory tree of {N} synthetic leaves in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Pure domain, for reference: appending 1M leaf hashes, and proofs over the 1M tree.
    let leaves: Vec<Hash> = (1..=N).map(|seq| synthetic_leaf(seq).1).collect();
    let mut group = c.benchmark_group("merkle_1M_memory");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N));
    group.bench_function("append_1M", |b| {
        b.iter(|| {
            let mut t = MemoryTree::new();
            for leaf in &leaves {
                t.append(*leaf);
            }
            t.size()
        })
    });
    group.finish();
    let random = Random(Cell::new(0x2545_f491_4f6c_dd1d));
    let mut group = c.benchmark_group("merkle_1M_memory");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| tree.inclusion_proof(random.below(N), N).unwrap())
    });
    group.bench_function("consistency_proof", |b| {
        b.iter(|| tree.consistency_proof(1 + random.below(N - 1), N).unwrap())
    });
    group.bench_function("root", |b| b.iter(|| tree.root_at(N).unwrap()));
    group.finish();

    let mut sqlite = sqlite_database(&tree, &nonces);
    bench_store(c, "sqlite", &mut sqlite);
    drop(sqlite);

    if let Some(db) = PostgresDb::create() {
        let mut conn = storage::establish(&db.url).unwrap();
        storage::run_migrations(&mut conn).unwrap();
        eprint!("PostgreSQL: ");
        build(&mut conn, &tree, &nonces);
        assert!(matches(&mut conn, &tree), "freshly built PostgreSQL log");
        bench_store(c, "postgres", &mut conn);
        drop(conn);
        drop(db);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
