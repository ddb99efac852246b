//! The raw durable commit rate: one-row INSERT transactions with the server's durability
//! settings, over one or several connections, and those settings for the report.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use trialgate::storage::{self, DbConnection, StorageError};

use crate::stats::Phase;
use crate::Res;

diesel::table! {
    load_raw_commit (id) {
        id -> BigInt,
        payload -> Text,
    }
}

pub(crate) fn prepare_raw_table(url: &str) -> Res<()> {
    let mut conn = storage::establish(url).map_err(|e| format!("raw database: {e}"))?;
    diesel::sql_query("DROP TABLE IF EXISTS load_raw_commit")
        .execute(&mut conn)
        .map_err(|e| format!("raw table: {e}"))?;
    diesel::sql_query(
        "CREATE TABLE load_raw_commit (id BIGINT PRIMARY KEY NOT NULL, payload TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .map_err(|e| format!("raw table: {e}"))?;
    Ok(())
}

/// `total` one-row INSERT transactions over `connections` connections (each from
/// `storage::establish`, so with the server's pragmas), in the server's write transaction kind.
/// Ids start at `first_id`.
pub(crate) fn raw_commit_rate(
    url: &str,
    connections: usize,
    total: usize,
    first_id: usize,
    limit: Duration,
) -> Res<Phase> {
    let payload = "x".repeat(200);
    let next = AtomicUsize::new(0);
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(storage::establish(url).map_err(|e| format!("raw database: {e}"))?);
    }
    let ready = std::sync::Barrier::new(connections + 1);
    let mut start = Instant::now();
    let results: Vec<Res<usize>> = std::thread::scope(|scope| {
        let workers: Vec<_> = conns
            .into_iter()
            .map(|mut conn| {
                let (next, ready, payload) = (&next, &ready, &payload);
                scope.spawn(move || -> Res<usize> {
                    ready.wait();
                    let deadline = Instant::now() + limit;
                    let mut done = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total || Instant::now() > deadline {
                            return Ok(done);
                        }
                        insert_one(&mut conn, (first_id + i) as i64, payload)
                            .map_err(|e| format!("raw insert: {e}"))?;
                        done += 1;
                    }
                })
            })
            .collect();
        start = Instant::now();
        ready.wait();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("raw thread panicked".into()))
            })
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut commits = 0;
    for r in results {
        commits += r?;
    }
    Ok(Phase { commits, seconds })
}

#[derive(QueryableByName)]
pub(crate) struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) v: String,
}

/// The durability settings in force on a connection of `url`, for the report.
pub(crate) fn durability(url: &str) -> Res<String> {
    let conn = storage::establish(url).map_err(|e| format!("raw database: {e}"))?;
    let err = |e: diesel::result::Error| format!("reading settings: {e}");
    Ok(match conn {
        DbConnection::Sqlite(mut c) => {
            diesel::sql_query(
                "SELECT 'journal_mode=' || (SELECT journal_mode FROM pragma_journal_mode) \
             || ' synchronous=' || (SELECT synchronous FROM pragma_synchronous) \
             || ' (2=FULL)' AS v",
            )
            .get_result::<Setting>(&mut c)
            .map_err(err)?
            .v
        }
        DbConnection::Postgres(mut c) => {
            diesel::sql_query(
                "SELECT 'synchronous_commit=' || current_setting('synchronous_commit') \
             || ' fsync=' || current_setting('fsync') \
             || ' wal_sync_method=' || current_setting('wal_sync_method') \
             || ' commit_delay=' || current_setting('commit_delay') AS v",
            )
            .get_result::<Setting>(&mut c)
            .map_err(err)?
            .v
        }
    })
}

fn insert_one(conn: &mut DbConnection, id: i64, payload: &str) -> Result<(), StorageError> {
    storage::write_transaction(conn, |c| {
        diesel::insert_into(load_raw_commit::table)
            .values((
                load_raw_commit::id.eq(id),
                load_raw_commit::payload.eq(payload),
            ))
            .execute(c)
            .map(|_| ())
            .map_err(StorageError::from)
    })
}
