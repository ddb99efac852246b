//! The Merkle log over each audit chain, in the database (the tree itself is
//! [`crate::audit::merkle`]).
//!
//! * Every complete subtree is a `merkle_nodes` row, written in the transaction of the entry
//!   whose append completed it; level 0 is the entry's leaf, stored with its random nonce.
//! * The head row keeps the tree's size and right edge ([`Frontier`]), read by the same
//!   `lock_chain_head` query, so an append costs one extra statement (the node insert).
//! * Proofs read only the O(log n) nodes they need, in one query.
//! * Chains older than the log are committed to it once, after the migrations
//!   ([`super::log_start`]).

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::schema::{audit_entries, audit_heads, merkle_nodes};
use super::{DbConnection, StorageError};
use crate::audit::merkle::{
    self, append_nodes, leaf_hash, nodes_for_root, Hash, MemoryTree, MerkleError, Node, NodeId,
    NodeSource, Nonce,
};

/// Rows per statement when a whole chain is written or read.
pub(super) const PAGE: i64 = 2000;

/// The complete subtrees on a tree's right edge: what the next append and the root need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier(BTreeMap<NodeId, Hash>);

impl Frontier {
    /// `level:idx:hex` items joined by `,`, as `audit_heads.log_frontier` keeps them.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(id, hash)| format!("{}:{}:{}", id.level, id.index, hex::encode(hash)))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn decode(text: &str) -> Result<Self, StorageError> {
        let bad = || StorageError::Integrity(format!("unreadable log frontier {text:?}"));
        let mut map = BTreeMap::new();
        for item in text.split(',').filter(|s| !s.is_empty()) {
            let mut parts = item.split(':');
            let (Some(level), Some(index), Some(hash), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let level = level.parse().map_err(|_| bad())?;
            let index = index.parse().map_err(|_| bad())?;
            let hash = decode_hex_hash(hash).ok_or_else(bad)?;
            map.insert(NodeId { level, index }, hash);
        }
        Ok(Frontier(map))
    }

    /// The frontier of a tree of `size` leaves, from a source holding at least its nodes.
    pub fn of<S: NodeSource<Error = MerkleError>>(
        source: &S,
        size: u64,
    ) -> Result<Self, MerkleError> {
        let mut map = BTreeMap::new();
        for id in nodes_for_root(size) {
            map.insert(id, source.node(id.level, id.index)?);
        }
        Ok(Frontier(map))
    }

    pub fn root(&self, size: u64) -> Result<Hash, MerkleError> {
        merkle::root_from(&self.0, size)
    }
}

fn decode_hex_hash(text: &str) -> Option<Hash> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

#[derive(Insertable)]
#[diesel(table_name = merkle_nodes, treat_none_as_null = true)]
pub(super) struct NewNode<'a> {
    chain: &'a str,
    level: i32,
    idx: i64,
    hash: String,
    nonce: Option<String>,
    seq: i64,
}

pub(super) fn rows<'a>(
    chain: &'a str,
    seq: i64,
    nodes: &[Node],
    nonce: &Nonce,
) -> Vec<NewNode<'a>> {
    nodes
        .iter()
        .map(|n| NewNode {
            chain,
            level: n.level as i32,
            idx: n.index as i64,
            hash: hex::encode(n.hash),
            nonce: (n.level == 0).then(|| hex::encode(nonce)),
            seq,
        })
        .collect()
}

/// One multi-row INSERT (the multi-backend connection has no batch insert of its own).
pub(super) fn insert_nodes(
    conn: &mut DbConnection,
    nodes: &[NewNode<'_>],
) -> Result<(), StorageError> {
    match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(merkle_nodes::table)
            .values(nodes)
            .execute(pg)?,
        DbConnection::Sqlite(sqlite) => diesel::insert_into(merkle_nodes::table)
            .values(nodes)
            .execute(sqlite)?,
    };
    Ok(())
}

pub(super) fn fresh_nonce() -> Result<Nonce, StorageError> {
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| {
        StorageError::Integrity(format!("no randomness from the operating system: {e}"))
    })?;
    Ok(nonce)
}

/// Adds entry `seq` (whose record is `record`) to the chain's tree: a fresh nonce, its leaf
/// and the parents it completes, inserted in one statement. Returns the new frontier; the
/// caller writes it to the head with the entry.
pub(super) fn append_leaf(
    conn: &mut DbConnection,
    chain: &str,
    seq: i64,
    record: &str,
    frontier: &Frontier,
) -> Result<Frontier, StorageError> {
    let size_before = merkle::leaf_index(seq)?;
    let nonce = fresh_nonce()?;
    let nodes = append_nodes(
        &frontier.0,
        size_before,
        leaf_hash(&nonce, record.as_bytes()),
    )?;
    insert_nodes(conn, &rows(chain, seq, &nodes, &nonce))?;
    let mut known = frontier.0.clone();
    known.extend(nodes.iter().map(|n| (n.id(), n.hash)));
    Ok(Frontier::of(&known, size_before + 1)?)
}

/// The nodes with these ids, in one query.
fn load_nodes(
    conn: &mut DbConnection,
    chain: &str,
    ids: &[NodeId],
) -> Result<BTreeMap<NodeId, Hash>, StorageError> {
    let mut map = BTreeMap::new();
    for part in ids.chunks(64) {
        let mut query = merkle_nodes::table
            .select((merkle_nodes::level, merkle_nodes::idx, merkle_nodes::hash))
            .into_boxed();
        let mut condition: Option<
            Box<dyn BoxableExpression<merkle_nodes::table, _, SqlType = diesel::sql_types::Bool>>,
        > = None;
        for id in part {
            // The whole key in every branch: SQLite then looks each node up by its primary
            // key (with `chain` outside the ORs it scans the chain's nodes).
            let this = Box::new(
                merkle_nodes::chain
                    .eq(chain)
                    .and(merkle_nodes::level.eq(id.level as i32))
                    .and(merkle_nodes::idx.eq(id.index as i64)),
            );
            condition = Some(match condition {
                None => this,
                Some(before) => Box::new(before.or(this)),
            });
        }
        if let Some(condition) = condition {
            query = query.filter(condition);
        }
        let found: Vec<(i32, i64, String)> = query.load(conn)?;
        for (level, index, hash) in found {
            let hash = decode_hex_hash(&hash).ok_or_else(|| {
                StorageError::Integrity(format!("unreadable merkle node {level}/{index}"))
            })?;
            map.insert(
                NodeId {
                    level: level as u32,
                    index: index as u64,
                },
                hash,
            );
        }
    }
    Ok(map)
}

/// The tree size the chain's log covers now.
pub fn log_size(conn: &mut DbConnection, chain: &str) -> Result<u64, StorageError> {
    let size: Option<i64> = audit_heads::table
        .find(chain)
        .select(audit_heads::log_size)
        .first(conn)
        .optional()?;
    let size = size.ok_or_else(|| StorageError::UnknownChain(chain.to_owned()))?;
    Ok(size as u64)
}

fn check_size(conn: &mut DbConnection, chain: &str, size: u64) -> Result<(), StorageError> {
    let available = log_size(conn, chain)?;
    if size > available {
        return Err(MerkleError::SizeUnavailable { size, available }.into());
    }
    Ok(())
}

/// Root of the chain's tree at `size` (at most the current size).
pub fn log_root(conn: &mut DbConnection, chain: &str, size: u64) -> Result<Hash, StorageError> {
    check_size(conn, chain, size)?;
    let nodes = load_nodes(conn, chain, &nodes_for_root(size))?;
    Ok(merkle::root_from(&nodes, size)?)
}

/// Inclusion proof of leaf `index` in the tree of `size`.
pub fn log_inclusion(
    conn: &mut DbConnection,
    chain: &str,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, StorageError> {
    check_size(conn, chain, size)?;
    let nodes = load_nodes(conn, chain, &merkle::nodes_for_inclusion(index, size)?)?;
    Ok(merkle::inclusion_proof_from(&nodes, index, size)?)
}

/// Consistency proof from the tree of `old` to the tree of `new` entries.
pub fn log_consistency(
    conn: &mut DbConnection,
    chain: &str,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, StorageError> {
    check_size(conn, chain, new)?;
    let nodes = load_nodes(conn, chain, &merkle::nodes_for_consistency(old, new)?)?;
    Ok(merkle::consistency_proof_from(&nodes, old, new)?)
}

/// The nonce stored with entry `seq`, and the entry's record.
pub fn log_leaf(
    conn: &mut DbConnection,
    chain: &str,
    seq: i64,
) -> Result<Option<(Nonce, String)>, StorageError> {
    let index = merkle::leaf_index(seq)? as i64;
    let nonce: Option<Option<String>> = merkle_nodes::table
        .filter(merkle_nodes::chain.eq(chain))
        .filter(merkle_nodes::level.eq(0))
        .filter(merkle_nodes::idx.eq(index))
        .select(merkle_nodes::nonce)
        .first(conn)
        .optional()?;
    let Some(Some(nonce)) = nonce else {
        return Ok(None);
    };
    let nonce = decode_hex_hash(&nonce)
        .ok_or_else(|| StorageError::Integrity(format!("unreadable nonce of entry {seq}")))?;
    let record: String = audit_entries::table
        .find((chain, seq))
        .select(audit_entries::record)
        .first(conn)?;
    Ok(Some((nonce, record)))
}

/// Where the stored log first disagrees with the chain's entries: a missing or wrong leaf,
/// node or head frontier. Recomputes the whole tree (memory: about 64 bytes per entry).
pub(super) fn check_log(
    conn: &mut DbConnection,
    chain: &str,
) -> Result<Option<(i64, String)>, StorageError> {
    let head: Option<(i64, i64, String)> = audit_heads::table
        .find(chain)
        .select((
            audit_heads::seq,
            audit_heads::log_size,
            audit_heads::log_frontier,
        ))
        .first(conn)
        .optional()?;
    // No head row: the chain check already reports it; the log has nothing to stand on.
    let Some((head_seq, log_size, frontier)) = head else {
        return Ok(Some((1, "the chain has no head row".to_string())));
    };
    if log_size != head_seq {
        return Ok(Some((
            log_size.min(head_seq) + 1,
            format!("the Merkle log covers {log_size} of {head_seq} entries"),
        )));
    }
    // Leaves: recomputed from nonce and record, compared with the stored leaf hash.
    let mut tree = MemoryTree::new();
    let mut after = 0i64;
    loop {
        let entries: Vec<(i64, String)> = audit_entries::table
            .filter(audit_entries::chain.eq(chain))
            .filter(audit_entries::seq.gt(after))
            .order(audit_entries::seq.asc())
            .limit(PAGE)
            .select((audit_entries::seq, audit_entries::record))
            .load(conn)?;
        let Some(&(last, _)) = entries.last() else {
            break;
        };
        let leaves: BTreeMap<i64, (String, Option<String>)> = merkle_nodes::table
            .filter(merkle_nodes::chain.eq(chain))
            .filter(merkle_nodes::level.eq(0))
            .filter(merkle_nodes::idx.ge(after))
            .filter(merkle_nodes::idx.lt(last))
            .select((merkle_nodes::idx, merkle_nodes::hash, merkle_nodes::nonce))
            .load::<(i64, String, Option<String>)>(conn)?
            .into_iter()
            .map(|(idx, hash, nonce)| (idx + 1, (hash, nonce)))
            .collect();
        for (seq, record) in &entries {
            let Some((stored, nonce)) = leaves.get(seq) else {
                return Ok(Some((
                    *seq,
                    format!("entry {seq} has no leaf in the Merkle log"),
                )));
            };
            let Some(nonce) = nonce.as_deref().and_then(decode_hex_hash) else {
                return Ok(Some((*seq, format!("entry {seq}'s nonce is unreadable"))));
            };
            let leaf = leaf_hash(&nonce, record.as_bytes());
            if hex::encode(leaf) != *stored {
                return Ok(Some((
                    *seq,
                    format!("entry {seq}'s leaf hash is not SHA-256(0x00 ‖ nonce ‖ record)"),
                )));
            }
            tree.append(leaf);
        }
        after = last;
    }
    // Inner nodes: every stored one equal to the recomputed one, and all of them there.
    let mut inner = 0u64;
    let mut from = (1i32, -1i64);
    loop {
        let page: Vec<(i32, i64, String, i64)> = merkle_nodes::table
            .filter(merkle_nodes::chain.eq(chain))
            .filter(
                merkle_nodes::level.gt(from.0).or(merkle_nodes::level
                    .eq(from.0)
                    .and(merkle_nodes::idx.gt(from.1))),
            )
            .order((merkle_nodes::level.asc(), merkle_nodes::idx.asc()))
            .limit(PAGE)
            .select((
                merkle_nodes::level,
                merkle_nodes::idx,
                merkle_nodes::hash,
                merkle_nodes::seq,
            ))
            .load(conn)?;
        let Some(&(level, idx, _, _)) = page.last() else {
            break;
        };
        for (level, idx, hash, seq) in &page {
            let expected = tree.node(*level as u32, *idx as u64).ok();
            if expected.map(hex::encode).as_deref() != Some(hash.as_str()) {
                return Ok(Some((
                    *seq,
                    format!("Merkle node {level}/{idx} does not hash its children"),
                )));
            }
            inner += 1;
        }
        from = (level, idx);
    }
    let size = tree.size();
    let expected_inner = size - u64::from(size.count_ones());
    if inner != expected_inner {
        return Ok(Some((
            head_seq,
            format!("the Merkle log holds {inner} inner nodes where {expected_inner} are due"),
        )));
    }
    let stored = Frontier::decode(&frontier)?;
    if stored != Frontier::of(&tree, size)? {
        return Ok(Some((
            head_seq,
            "the head's log frontier is not the tree's right edge".to_string(),
        )));
    }
    Ok(None)
}
