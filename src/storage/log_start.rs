//! Committing chains that predate the Merkle log to it, once: every entry gets its nonce and
//! nodes, and a `log.started` entry records the step in the chain itself.

use diesel::prelude::*;

use super::chain::{append_audit, lock_chain_head};
use super::log::{fresh_nonce, insert_nodes, rows, Frontier, PAGE};
use super::schema::{audit_entries, audit_heads};
use super::{write_transaction, DbConnection, StorageError};
use crate::audit::merkle::{leaf_hash, MemoryTree};
use crate::audit::Action;

/// Commits every chain whose entries predate the log: each entry gets a nonce and its nodes,
/// and a `log.started` entry records how many were committed. Idempotent; safe with several
/// servers (each chain under its head lock).
pub fn start_logs(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    let behind: Vec<String> = audit_heads::table
        .filter(audit_heads::log_size.ne(audit_heads::seq))
        .select(audit_heads::chain)
        .load(conn)?;
    let mut started = Vec::new();
    for chain in behind {
        let done = write_transaction(conn, |c| start_log(c, &chain))?;
        if done {
            started.push(chain);
        }
    }
    Ok(started)
}

fn start_log(c: &mut DbConnection, chain: &str) -> Result<bool, StorageError> {
    let mut head = lock_chain_head(c, chain)?;
    if head.log_size == head.seq() {
        return Ok(false);
    }
    if head.log_size != 0 {
        return Err(StorageError::Integrity(format!(
            "the Merkle log of chain `{chain}` covers {} of {} entries",
            head.log_size,
            head.seq()
        )));
    }
    let mut tree = MemoryTree::new();
    let mut after = 0i64;
    loop {
        let page: Vec<(i64, String)> = audit_entries::table
            .filter(audit_entries::chain.eq(chain))
            .filter(audit_entries::seq.gt(after))
            .filter(audit_entries::seq.le(head.seq()))
            .order(audit_entries::seq.asc())
            .limit(PAGE)
            .select((audit_entries::seq, audit_entries::record))
            .load(c)?;
        let Some(&(last, _)) = page.last() else { break };
        let mut batch = Vec::new();
        for (seq, record) in &page {
            if *seq != tree.size() as i64 + 1 {
                return Err(StorageError::Integrity(format!(
                    "chain `{chain}` has no entry {} (run `trialgate audit verify`)",
                    tree.size() + 1
                )));
            }
            let nonce = fresh_nonce()?;
            let nodes = tree.append(leaf_hash(&nonce, record.as_bytes()));
            batch.extend(rows(chain, *seq, &nodes, &nonce));
        }
        for part in batch.chunks(500) {
            insert_nodes(c, part)?;
        }
        after = last;
    }
    let committed = tree.size() as i64;
    if committed != head.seq() {
        return Err(StorageError::Integrity(format!(
            "chain `{chain}` has {committed} entries where its head says {}",
            head.seq()
        )));
    }
    head.log_size = committed;
    head.frontier = Frontier::of(&tree, tree.size())?;
    append_audit(
        c,
        &mut head,
        crate::audit::truncate_to_micros(chrono::Utc::now().naive_utc()),
        "trialgate",
        Some(crate::access::SYSTEM_ROLE),
        Action::LogStarted,
        serde_json::json!({ "committed_entries": committed }),
    )?;
    Ok(true)
}
