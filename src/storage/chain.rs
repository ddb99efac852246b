//! Audit chains in the database: create, lock, append, read, verify.

use std::sync::mpsc;

use chrono::NaiveDateTime;
use diesel::connection::DefaultLoadingMode;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::log::{append_leaf, check_log, Frontier};
use super::models::{AuditEntry, AuditHead, NewAuditEntry, NewAuditHead, Screening, Subject};
use super::schema::{audit_entries, audit_heads, screenings, subjects};
use super::{read_transaction, DbConnection, StorageError};
use crate::access::Role;
use crate::audit::rows::{
    DecisionRow, DeviationRow, RowClaims, RowDisagreement, ScreeningRow, SubjectRow,
};
use crate::audit::{self, Action, AsStoredEntry, ChainVerifier, Verification, GENESIS_HASH};
use crate::protocol::SubjectStatus;

/// Creates an empty chain (head seq 0, hash [`GENESIS_HASH`]); `Conflict` if it exists. The
/// `_system` chain is created by the migrations; create a trial's chain in the transaction
/// that inserts the trial. Returns its head, held by this transaction (the new row is
/// invisible to others until commit), for the chain's first appends.
pub fn create_chain(conn: &mut DbConnection, chain: &str) -> Result<ChainHead, StorageError> {
    diesel::insert_into(audit_heads::table)
        .values(NewAuditHead {
            chain,
            seq: 0,
            hash: GENESIS_HASH,
        })
        .execute(conn)?;
    Ok(ChainHead {
        chain: chain.to_owned(),
        seq: 0,
        hash: GENESIS_HASH.to_owned(),
        log_size: 0,
        frontier: Frontier::default(),
    })
}

/// A chain's head, locked for this transaction: what the next entry follows. Only
/// [`lock_chain_head`] makes one, and [`append_audit`] moves it, so a writer reads the head
/// once and every append in its transaction follows the one before without another read.
#[derive(Debug)]
pub struct ChainHead {
    chain: String,
    seq: i64,
    hash: String,
    /// Entries the Merkle log covers (equal to `seq` once the log is started).
    pub(super) log_size: i64,
    pub(super) frontier: Frontier,
}

impl ChainHead {
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The seq of the chain's last entry (0 for an empty chain).
    pub fn seq(&self) -> i64 {
        self.seq
    }
}

/// Locks the chain's head row and returns it.
///
/// Call inside [`write_transaction`](super::write_transaction), before reading anything the
/// write depends on: on PostgreSQL this is `SELECT … FOR UPDATE` (concurrent appenders queue
/// here until commit); on SQLite a plain read, the immediate transaction already holding the
/// write lock. `UnknownChain` if absent.
pub fn lock_chain_head(conn: &mut DbConnection, chain: &str) -> Result<ChainHead, StorageError> {
    type Head = (i64, String, i64, String);
    let columns = (
        audit_heads::seq,
        audit_heads::hash,
        audit_heads::log_size,
        audit_heads::log_frontier,
    );
    let head = match conn {
        DbConnection::Postgres(pg) => audit_heads::table
            .find(chain)
            .select(columns)
            .for_update()
            .first::<Head>(pg)
            .optional()?,
        DbConnection::Sqlite(sqlite) => audit_heads::table
            .find(chain)
            .select(columns)
            .first::<Head>(sqlite)
            .optional()?,
    };
    let (seq, hash, log_size, frontier) =
        head.ok_or_else(|| StorageError::UnknownChain(chain.to_owned()))?;
    Ok(ChainHead {
        chain: chain.to_owned(),
        seq,
        hash,
        log_size,
        frontier: Frontier::decode(&frontier)?,
    })
}

/// Appends an entry after `head` (locked in this transaction) and returns it. Must run in the
/// same transaction as the state change it records. `at` is truncated to microseconds; `role`
/// is the actor's role, `None` (recorded as `none`) for an anonymous client.
pub fn append_audit(
    conn: &mut DbConnection,
    head: &mut ChainHead,
    at: NaiveDateTime,
    actor: &str,
    role: Option<Role>,
    action: Action,
    data: serde_json::Value,
) -> Result<AuditEntry, StorageError> {
    let chain = head.chain.as_str();
    let entry = audit::next_entry(
        head.seq,
        &head.hash,
        at,
        actor,
        role.map_or("none", Role::as_str),
        action.as_str(),
        chain,
        &data,
    )?;
    diesel::insert_into(audit_entries::table)
        .values(NewAuditEntry {
            chain,
            seq: entry.seq,
            at: entry.at,
            actor: &entry.actor,
            role: &entry.role,
            action: &entry.action,
            record: &entry.record,
            prev_hash: &entry.prev_hash,
            hash: &entry.hash,
        })
        .execute(conn)?;
    if head.log_size != head.seq {
        return Err(StorageError::Integrity(format!(
            "the Merkle log of audit chain `{chain}` is not started (run `trialgate migrate`)"
        )));
    }
    let frontier = append_leaf(conn, chain, entry.seq, &entry.record, &head.frontier)?;
    // The guarded update also catches a head moved by a writer that did not lock it.
    let moved = diesel::update(
        audit_heads::table
            .find(chain)
            .filter(audit_heads::seq.eq(head.seq)),
    )
    .set((
        audit_heads::seq.eq(entry.seq),
        audit_heads::hash.eq(&entry.hash),
        audit_heads::log_size.eq(entry.seq),
        audit_heads::log_frontier.eq(frontier.encode()),
    ))
    .execute(conn)?;
    if moved != 1 {
        return Err(StorageError::Integrity(format!(
            "head of audit chain `{chain}` moved during an append (not inside write_transaction?)"
        )));
    }
    head.seq = entry.seq;
    head.hash.clone_from(&entry.hash);
    head.log_size = entry.seq;
    head.frontier = frontier;
    Ok(AuditEntry {
        chain: chain.to_owned(),
        seq: entry.seq,
        at: entry.at,
        actor: entry.actor,
        role: entry.role,
        action: entry.action,
        record: entry.record,
        prev_hash: entry.prev_hash,
        hash: entry.hash,
    })
}

/// Entries with `seq > after_seq`, in order, at most `limit` (negative counts as 0; the caller
/// enforces the API maximum).
pub fn read_audit(
    conn: &mut DbConnection,
    chain: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, StorageError> {
    Ok(audit_entries::table
        .filter(audit_entries::chain.eq(chain))
        .filter(audit_entries::seq.gt(after_seq))
        .order(audit_entries::seq.asc())
        .limit(limit.max(0))
        .select(AuditEntry::as_select())
        .load(conn)?)
}

/// The record of the chain's first entry with `action`, if any (e.g. `seed.revealed`).
pub fn first_record_with_action(
    conn: &mut DbConnection,
    chain: &str,
    action: Action,
) -> Result<Option<String>, StorageError> {
    Ok(audit_entries::table
        .filter(audit_entries::chain.eq(chain))
        .filter(audit_entries::action.eq(action.as_str()))
        .order(audit_entries::seq.asc())
        .select(audit_entries::record)
        .first(conn)
        .optional()?)
}

/// The chain's head (seq 0 and [`GENESIS_HASH`] while empty); `UnknownChain` if absent.
pub fn audit_head(conn: &mut DbConnection, chain: &str) -> Result<AuditHead, StorageError> {
    audit_heads::table
        .find(chain)
        .select(AuditHead::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StorageError::UnknownChain(chain.to_owned()))
}

/// Verifies the chain as stored, in one read snapshot, and that the trial's screening and
/// subject rows agree with the entries that recorded them (both directions). Entries are streamed in seq order (one
/// query, rows fetched as they are verified; memory stays constant) and checked on a second
/// thread while the next rows load. Besides the entries themselves, the chain's `audit_heads`
/// row must name its last entry, and `expected_head` (a head hash recorded earlier, e.g. from a
/// checkpoint) must be the hash of one of its entries. `UnknownChain` if the chain has neither
/// a head nor entries.
///
/// Runs in its own read transaction; if called inside a transaction it uses that one instead.
pub fn verify_chain(
    conn: &mut DbConnection,
    chain: &str,
    expected_head: Option<&str>,
) -> Result<Verification, StorageError> {
    let body = |conn: &mut DbConnection| -> Result<Verification, StorageError> {
        let head = audit_heads::table
            .find(chain)
            .select(AuditHead::as_select())
            .first(conn)
            .optional()?;
        let mut verifier = ChainVerifier::new(chain);
        if let Some(hash) = expected_head {
            verifier = verifier.expect_head(hash);
        }
        verifier = match &head {
            Some(head) => verifier.expect_last(head.seq, &head.hash),
            // A missing head row is itself a defect when entries exist.
            None => verifier.expect_last(0, GENESIS_HASH),
        };
        let (verification, mut claims) = stream_entries(conn, chain, verifier)?;
        if head.is_none() && verification.entries == 0 {
            return Err(StorageError::UnknownChain(chain.to_owned()));
        }
        check_rows(conn, chain, &mut claims)?;
        let log = check_log(conn, chain)?.map(|(seq, detail)| RowDisagreement { seq, detail });
        Ok(verification.with_rows(claims.finish()).with_log(log))
    };
    match read_transaction(conn, body) {
        Err(StorageError::Database(DieselError::AlreadyInTransaction)) => body(conn),
        other => other,
    }
}

/// An `audit_entries` row without the chain name (known to the verifier).
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_entries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct ChainRow {
    seq: i64,
    at: NaiveDateTime,
    actor: String,
    role: String,
    action: String,
    record: String,
    prev_hash: String,
    hash: String,
}

impl AsStoredEntry for ChainRow {
    fn as_stored(&self) -> audit::StoredEntry<'_> {
        audit::StoredEntry {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            role: &self.role,
            action: &self.action,
            record: &self.record,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

/// Rows handed from the loading thread to the verifying thread at a time.
const BATCH: usize = 256;

/// Compares the trial's screening and subject rows with what its entries recorded (same
/// snapshot as the entries).
fn check_rows(
    conn: &mut DbConnection,
    chain: &str,
    claims: &mut RowClaims,
) -> Result<(), StorageError> {
    for s in screenings::table
        .filter(screenings::trial_id.eq(chain))
        .select(Screening::as_select())
        .load(conn)?
    {
        claims.check_screening(&ScreeningRow {
            id: &s.id,
            patient_ref: &s.patient_ref,
            site: &s.site,
            outcome: s.outcome.as_str(),
            input_json: &s.input_json,
            result_json: &s.result_json,
            screening_date: s.screening_date,
            screened_at: s.screened_at,
            screened_by: &s.screened_by,
            audit_seq: s.audit_seq,
            stratum_key: s.stratum_key.as_deref(),
            protocol_version: s.protocol_version,
            corrects: s.corrects.as_deref(),
            correction_status: s.correction_status.map(|c| c.as_str()),
            correction_reason: s.correction_reason.as_deref(),
        });
    }
    for d in crate::storage::repo::corrections::decisions(conn, chain)? {
        claims.check_decision(&DecisionRow {
            screening_id: &d.screening_id,
            decision: d.decision.as_str(),
            reason: &d.reason,
            decided_by: &d.decided_by,
            decided_at: d.decided_at,
            audit_seq: d.audit_seq,
            signature: d.signature.as_deref(),
        });
    }
    for d in crate::storage::repo::corrections::deviations(conn, chain)? {
        claims.check_deviation(&DeviationRow {
            id: &d.id,
            subject_id: &d.subject_id,
            kind: d.kind.as_str(),
            screening_id: &d.screening_id,
            recorded_at: d.recorded_at,
            audit_seq: d.audit_seq,
        });
    }
    for s in subjects::table
        .filter(subjects::trial_id.eq(chain))
        .select(Subject::as_select())
        .load(conn)?
    {
        claims.check_subject(&SubjectRow {
            id: &s.id,
            sequence: s.sequence,
            screening_id: &s.screening_id,
            patient_ref: &s.patient_ref,
            site: &s.site,
            stratum_key: &s.stratum_key,
            stratum_position: s.stratum_position,
            arm: &s.arm,
            randomized_at: s.randomized_at,
            randomized_by: &s.randomized_by,
            audit_seq: s.audit_seq,
            withdrawn: s.status == SubjectStatus::Withdrawn,
            withdrawn_at: s.withdrawn_at,
            withdrawn_by: s.withdrawn_by.as_deref(),
            withdrawal_reason: s.withdrawal_reason.as_deref(),
            randomization_signature: s.randomization_signature.as_deref(),
            withdrawal_signature: s.withdrawal_signature.as_deref(),
        });
    }
    Ok(())
}

/// Verifies the chain's entries, streamed from `load_rows`, on a scoped thread fed through a
/// bounded channel (loading and hashing overlap; memory stays bounded), and collects what the
/// entries say about table rows.
fn stream_entries(
    conn: &mut DbConnection,
    chain: &str,
    mut verifier: ChainVerifier,
) -> Result<(Verification, RowClaims), StorageError> {
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Vec<ChainRow>>(4);
        let worker = scope.spawn(move || {
            let mut claims = RowClaims::new();
            for batch in receiver {
                for row in &batch {
                    let entry = row.as_stored();
                    verifier.push(&entry);
                    claims.push(&entry);
                }
            }
            (verifier.finish(), claims)
        });
        let loaded = load_rows(conn, chain, sender);
        let verification = worker
            .join()
            .map_err(|_| StorageError::Integrity("audit verifier thread panicked".into()))?;
        loaded.map(|()| verification)
    })
}

/// Sends the chain's rows in seq order, in batches, from one query (SQLite: stepping the
/// statement; PostgreSQL: libpq row-by-row mode, so the result is never held whole).
fn load_rows(
    conn: &mut DbConnection,
    chain: &str,
    sender: mpsc::SyncSender<Vec<ChainRow>>,
) -> Result<(), StorageError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut forward = |row: ChainRow| {
        batch.push(row);
        if batch.len() == BATCH {
            // A send fails only if the verifier thread panicked; joining it reports that.
            let _ = sender.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
        }
    };
    match conn {
        DbConnection::Sqlite(c) => {
            let rows = audit_entries::table
                .filter(audit_entries::chain.eq(chain))
                .order(audit_entries::seq.asc())
                .select(ChainRow::as_select())
                .load_iter::<ChainRow, DefaultLoadingMode>(c)?;
            for row in rows {
                forward(row?);
            }
        }
        DbConnection::Postgres(c) => {
            let rows = audit_entries::table
                .filter(audit_entries::chain.eq(chain))
                .order(audit_entries::seq.asc())
                .select(ChainRow::as_select())
                .load_iter::<ChainRow, PgRowByRowLoadingMode>(c)?;
            for row in rows {
                forward(row?);
            }
        }
    }
    if !batch.is_empty() {
        let _ = sender.send(batch);
    }
    Ok(())
}
