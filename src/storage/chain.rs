//! Audit chains in the database: create, lock, append, read, verify.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::models::{AuditEntry, AuditHead, NewAuditEntry, NewAuditHead};
use super::schema::{audit_entries, audit_heads};
use super::{read_transaction, DbConnection, StorageError};
use crate::audit::{self, AsStoredEntry, ChainVerifier, Verification, GENESIS_HASH};

/// Rows read per query by [`verify_chain`].
pub const VERIFY_PAGE_SIZE: i64 = 5_000;

/// Creates an empty chain (head seq 0, hash [`GENESIS_HASH`]); `Conflict` if it exists. The
/// `_system` chain is created by the migrations; create a trial's chain in the transaction
/// that inserts the trial.
pub fn create_chain(conn: &mut DbConnection, chain: &str) -> Result<(), StorageError> {
    diesel::insert_into(audit_heads::table)
        .values(NewAuditHead {
            chain,
            seq: 0,
            hash: GENESIS_HASH,
        })
        .execute(conn)?;
    Ok(())
}

/// Locks the chain's head row and returns (seq, hash) of its last entry.
///
/// Call inside [`write_transaction`](super::write_transaction): on PostgreSQL this is
/// `SELECT … FOR UPDATE` (concurrent appenders queue here until commit); on SQLite a plain read,
/// the immediate transaction already holding the write lock. `UnknownChain` if absent.
pub fn lock_chain_head(
    conn: &mut DbConnection,
    chain: &str,
) -> Result<(i64, String), StorageError> {
    let head = match conn {
        DbConnection::Postgres(pg) => audit_heads::table
            .find(chain)
            .select((audit_heads::seq, audit_heads::hash))
            .for_update()
            .first::<(i64, String)>(pg)
            .optional()?,
        DbConnection::Sqlite(sqlite) => audit_heads::table
            .find(chain)
            .select((audit_heads::seq, audit_heads::hash))
            .first::<(i64, String)>(sqlite)
            .optional()?,
    };
    head.ok_or_else(|| StorageError::UnknownChain(chain.to_owned()))
}

/// Appends an entry to `chain` and returns it. Must run inside
/// [`write_transaction`](super::write_transaction), in the same transaction as the state
/// change it records. `at` is truncated to microseconds; `role` is the actor's role.
pub fn append_audit(
    conn: &mut DbConnection,
    chain: &str,
    at: NaiveDateTime,
    actor: &str,
    role: &str,
    action: &str,
    data: serde_json::Value,
) -> Result<AuditEntry, StorageError> {
    let (head_seq, head_hash) = lock_chain_head(conn, chain)?;
    let entry = audit::next_entry(head_seq, &head_hash, at, actor, role, action, chain, &data)?;
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
    let moved = diesel::update(
        audit_heads::table
            .find(chain)
            .filter(audit_heads::seq.eq(head_seq)),
    )
    .set((
        audit_heads::seq.eq(entry.seq),
        audit_heads::hash.eq(&entry.hash),
    ))
    .execute(conn)?;
    if moved != 1 {
        return Err(StorageError::Integrity(format!(
            "head of audit chain `{chain}` moved during an append (not inside write_transaction?)"
        )));
    }
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

/// Entries with `seq > after_seq`, in order, at most `limit` (the caller bounds `limit`).
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
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)?)
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

/// Verifies the chain as stored, in one read snapshot, streaming entries in pages of
/// [`VERIFY_PAGE_SIZE`]. Besides the entries themselves, the chain's `audit_heads` row must name
/// its last entry, and `expected_head` (a head hash recorded earlier, e.g. from a checkpoint)
/// must be the hash of one of its entries. `UnknownChain` if the chain has neither a head nor
/// entries.
///
/// Runs in its own read transaction; if called inside a transaction it uses that one instead.
pub fn verify_chain(
    conn: &mut DbConnection,
    chain: &str,
    expected_head: Option<&str>,
) -> Result<Verification, StorageError> {
    verify_chain_paged(conn, chain, expected_head, VERIFY_PAGE_SIZE)
}

#[doc(hidden)]
pub fn verify_chain_paged(
    conn: &mut DbConnection,
    chain: &str,
    expected_head: Option<&str>,
    page_size: i64,
) -> Result<Verification, StorageError> {
    let page_size = page_size.max(1);
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
        let mut after = i64::MIN;
        loop {
            let page: Vec<AuditEntry> = audit_entries::table
                .filter(audit_entries::chain.eq(chain))
                .filter(audit_entries::seq.gt(after))
                .order(audit_entries::seq.asc())
                .limit(page_size)
                .select(AuditEntry::as_select())
                .load(conn)?;
            for entry in &page {
                verifier.push(&entry.as_stored());
            }
            match page.last() {
                Some(last) if page.len() as i64 == page_size => after = last.seq,
                _ => break,
            }
        }
        let verification = verifier.finish();
        if head.is_none() && verification.entries == 0 {
            return Err(StorageError::UnknownChain(chain.to_owned()));
        }
        Ok(verification)
    };
    match read_transaction(conn, body) {
        Err(StorageError::Database(DieselError::AlreadyInTransaction)) => body(conn),
        other => other,
    }
}
