//! Receipts: each audit chain as an RFC 6962 / RFC 9162 §2.1 Merkle tree over its entries in
//! `seq` order (leaf index = `seq - 1`). Pure functions, no I/O.
//!
//! * Leaf input = `nonce ‖ record`: the entry's 32 random bytes, then its exact record bytes.
//!   [`leaf_hash`] = SHA-256(0x00 ‖ nonce ‖ record); [`node_hash`] = SHA-256(0x01 ‖ left ‖ right);
//!   the empty tree's root is [`EMPTY_ROOT`] = SHA-256("").
//! * Everything past the leaf hash is generic over leaf hashes, so the RFC 6962 test vectors
//!   (leaf = SHA-256(0x00 ‖ data), see [`rfc6962_leaf_hash`]) exercise the same code.
//! * Slices of leaf hashes: [`root`], [`inclusion_proof`], [`consistency_proof`].
//! * Stored trees: a [`NodeSource`] serves *complete subtrees* — the node at `level` covering
//!   leaves `[index·2^level, (index+1)·2^level)`, which never changes once written.
//!   [`root_from`], [`inclusion_proof_from`] and [`consistency_proof_from`] ask it for
//!   O(log n) of them; the `nodes_for_*` functions list those nodes up front (one query), and
//!   [`append_nodes`] / [`MemoryTree::append`] give the rows one append creates.
//! * Verifiers: [`verify_inclusion`] (RFC 9162 §2.1.3.2), [`verify_consistency`] (§2.1.4.2).
//!
//! Not `ct-merkle`: 0.3 needs digest 0.11 (we have sha2 0.10), and 0.2 verifies leaf values, not
//! hashes, addresses nodes of one fixed tree size (right-edge nodes move) and can panic on input.

mod nodes;
mod proof;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

pub use nodes::{
    append_nodes, consistency_proof_from, inclusion_proof_from, nodes_for_append,
    nodes_for_consistency, nodes_for_inclusion, nodes_for_root, root_from, MemoryTree, Node,
    NodeId, NodeSource,
};
pub use proof::{
    consistency_proof, consistency_proof_len, inclusion_proof, inclusion_proof_len, root,
    verify_consistency, verify_entry_inclusion, verify_inclusion,
};

/// A SHA-256 output: leaf hash, node hash or root.
pub type Hash = [u8; 32];

/// The random bytes stored with each entry and hashed in front of its record.
pub type Nonce = [u8; 32];

/// Root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// Everything that can go wrong in this module; each variant names the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("entry seq {0} has no leaf (seq starts at 1)")]
    BadSeq(i64),
    #[error("consistency needs old size {old} <= new size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("tree size {size} is larger than the {available} leaves available")]
    SizeUnavailable { size: u64, available: u64 },
    #[error("the tree is full (2^64 - 1 leaves)")]
    TreeFull,
    #[error("no Merkle node at level {level}, index {index}")]
    MissingNode { level: u32, index: u64 },
    #[error("inclusion proof has {got} hashes, but leaf {index} of a tree of size {size} needs {expected}")]
    InclusionProofLength {
        index: u64,
        size: u64,
        got: usize,
        expected: usize,
    },
    #[error("consistency proof has {got} hashes, but sizes {old} to {new} need {expected}")]
    ConsistencyProofLength {
        old: u64,
        new: u64,
        got: usize,
        expected: usize,
    },
    #[error("inclusion proof for leaf {index} of a tree of size {size} does not lead to the root: the leaf (nonce or record), a proof hash or the root differs from what was logged")]
    InclusionRootMismatch { index: u64, size: u64 },
    #[error("consistency proof from size {old} to {new} does not reproduce the old root: a proof hash or the old root differs from what was logged")]
    OldRootMismatch { old: u64, new: u64 },
    #[error("consistency proof from size {old} to {new} does not reproduce the new root: a proof hash or the new root differs from what was logged")]
    NewRootMismatch { old: u64, new: u64 },
    #[error("proof hash {position} is not standard base64 of 32 bytes")]
    BadProofHash { position: usize },
    #[error("root hash is not standard base64 of 32 bytes")]
    BadRootHash,
}

/// Leaf hash of an audit entry: SHA-256(0x00 ‖ nonce ‖ record).
pub fn leaf_hash(nonce: &Nonce, record: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(nonce)
        .chain_update(record)
        .finalize()
        .into()
}

/// Plain RFC 6962 leaf hash, SHA-256(0x00 ‖ data): what the published test vectors use.
pub fn rfc6962_leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(data)
        .finalize()
        .into()
}

/// Interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Leaf index of the entry with this `seq` (`seq - 1`).
pub fn leaf_index(seq: i64) -> Result<u64, MerkleError> {
    u64::try_from(seq)
        .ok()
        .and_then(|s| s.checked_sub(1))
        .ok_or(MerkleError::BadSeq(seq))
}

/// Standard base64, as the API shows hashes.
pub fn encode_hash(hash: &Hash) -> String {
    BASE64.encode(hash)
}

/// A hash from standard base64; `None` unless it is exactly 32 bytes.
pub fn decode_hash(text: &str) -> Option<Hash> {
    BASE64.decode(text).ok()?.try_into().ok()
}

/// A root from standard base64.
pub fn decode_root(text: &str) -> Result<Hash, MerkleError> {
    decode_hash(text).ok_or(MerkleError::BadRootHash)
}

pub fn encode_proof(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(encode_hash).collect()
}

/// A proof from its API form; names the first hash that is not base64 of 32 bytes.
pub fn decode_proof<S: AsRef<str>>(proof: &[S]) -> Result<Vec<Hash>, MerkleError> {
    proof
        .iter()
        .enumerate()
        .map(|(position, text)| {
            decode_hash(text.as_ref()).ok_or(MerkleError::BadProofHash { position })
        })
        .collect()
}

/// Largest power of two strictly below `len`; `len >= 2`.
fn split_point(len: u64) -> u64 {
    1u64 << (63 - len.saturating_sub(1).leading_zeros().min(63))
}

#[cfg(test)]
mod tests;
