//! Roots and proofs from stored complete subtrees.
//!
//! Every node an RFC 6962 proof names is either a complete subtree (`2^level` leaves starting at
//! a multiple of `2^level`, fixed forever once its last leaf is appended) or a right-edge partial
//! subtree of the tree of size `n`, whose hash is composed here from at most log₂ n complete
//! subtrees. So storage keeps only complete subtrees — one row per leaf, plus one per completed
//! parent — and a proof for any size `n` reads O(log n) of them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{node_hash, split_point, Hash, MerkleError, EMPTY_ROOT};

/// A complete subtree: the node at `level` covering leaves `[index·2^level, (index+1)·2^level)`.
/// Level 0 holds the leaf hashes themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

/// A complete subtree and its hash: one row for storage to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub level: u32,
    pub index: u64,
    pub hash: Hash,
}

impl Node {
    pub fn id(&self) -> NodeId {
        NodeId {
            level: self.level,
            index: self.index,
        }
    }
}

/// Where complete-subtree hashes come from (a database, a [`MemoryTree`], a map of prefetched
/// rows). Proof functions report their own failures as [`MerkleError`], hence the `From` bound.
pub trait NodeSource {
    type Error: From<MerkleError>;

    /// The hash of the complete subtree at (`level`, `index`).
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// Prefetched rows, e.g. those [`nodes_for_inclusion`] listed.
impl<S: std::hash::BuildHasher> NodeSource for HashMap<NodeId, Hash, S> {
    type Error = MerkleError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        self.get(&NodeId { level, index })
            .copied()
            .ok_or(MerkleError::MissingNode { level, index })
    }
}

impl NodeSource for BTreeMap<NodeId, Hash> {
    type Error = MerkleError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        self.get(&NodeId { level, index })
            .copied()
            .ok_or(MerkleError::MissingNode { level, index })
    }
}

/// Root of the tree's first `size` leaves.
pub fn root_from<S: NodeSource>(source: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    range_hash(source, 0, size)
}

/// RFC 9162 §2.1.3.1 `PATH(index, D[size])`, leaf side first.
pub fn inclusion_proof_from<S: NodeSource>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size }.into());
    }
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// RFC 9162 §2.1.4.1 `PROOF(old, D[new])`; empty when `old` is 0 or equals `new`.
pub fn consistency_proof_from<S: NodeSource>(
    source: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, S::Error> {
    if old > new {
        return Err(MerkleError::SizesOutOfOrder { old, new }.into());
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(source, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

/// The nodes appending leaf number `size_before` (0-based) creates: the leaf itself at level 0,
/// then each parent it completes, lowest first. Reads one left sibling per completed parent.
pub fn append_nodes<S: NodeSource>(
    source: &S,
    size_before: u64,
    leaf: Hash,
) -> Result<Vec<Node>, S::Error> {
    if size_before == u64::MAX {
        return Err(MerkleError::TreeFull.into());
    }
    let mut created = vec![Node {
        level: 0,
        index: size_before,
        hash: leaf,
    }];
    let (mut level, mut index, mut hash) = (0u32, size_before, leaf);
    while index & 1 == 1 {
        let left = source.node(level, index - 1)?;
        hash = node_hash(&left, &hash);
        level += 1;
        index >>= 1;
        created.push(Node { level, index, hash });
    }
    Ok(created)
}

/// The complete subtrees [`root_from`] reads, so storage can fetch them in one query.
pub fn nodes_for_root(size: u64) -> Vec<NodeId> {
    record(|r| root_from(r, size)).unwrap_or_default()
}

/// The complete subtrees [`inclusion_proof_from`] reads.
pub fn nodes_for_inclusion(index: u64, size: u64) -> Result<Vec<NodeId>, MerkleError> {
    record(|r| inclusion_proof_from(r, index, size))
}

/// The complete subtrees [`consistency_proof_from`] reads.
pub fn nodes_for_consistency(old: u64, new: u64) -> Result<Vec<NodeId>, MerkleError> {
    record(|r| consistency_proof_from(r, old, new))
}

/// The stored nodes [`append_nodes`] reads (left siblings of the parents the append completes).
pub fn nodes_for_append(size_before: u64) -> Result<Vec<NodeId>, MerkleError> {
    record(|r| append_nodes(r, size_before, [0; 32]))
}

/// A source that answers zeros and writes down what was asked.
struct Recorder(RefCell<BTreeSet<NodeId>>);

impl NodeSource for Recorder {
    type Error = MerkleError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        self.0.borrow_mut().insert(NodeId { level, index });
        Ok([0; 32])
    }
}

fn record<T>(
    run: impl FnOnce(&Recorder) -> Result<T, MerkleError>,
) -> Result<Vec<NodeId>, MerkleError> {
    let recorder = Recorder(RefCell::new(BTreeSet::new()));
    run(&recorder)?;
    Ok(recorder.0.into_inner().into_iter().collect())
}

/// `MTH(D[start:end])` for `start < end`. A complete subtree is one read; any other range is
/// split as RFC 6962 splits it. For the ranges proofs use (complete, or ending at the tree's
/// right edge) that makes at most one read per level.
fn range_hash<S: NodeSource>(source: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let len = end - start;
    if len.is_power_of_two() && start.is_multiple_of(len) {
        let level = len.trailing_zeros();
        return source.node(level, start >> level);
    }
    let k = split_point(len);
    let left = range_hash(source, start, start + k)?;
    let right = range_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// `PATH(m, D[start:end])` appended to `out`, deepest sibling first.
fn path<S: NodeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let len = end - start;
    if len <= 1 {
        return Ok(());
    }
    let k = split_point(len);
    if m < start + k {
        path(source, m, start, start + k, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        path(source, m, start + k, end, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// `SUBPROOF(m, D[start:end], complete)` with `start < m <= end`, `m` counted from leaf 0.
fn subproof<S: NodeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if m == end {
        if !complete {
            out.push(range_hash(source, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(end - start);
    if m <= start + k {
        subproof(source, m, start, start + k, complete, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        subproof(source, m, start + k, end, false, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// Every complete subtree of an append-only tree, in memory: `levels[l][i]` is node (l, i).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.append(leaf);
        }
        tree
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Appends a leaf hash; returns the nodes this created (the leaf at level 0, then each
    /// parent it completed), which are exactly the rows storage adds with the entry.
    pub fn append(&mut self, leaf: Hash) -> Vec<Node> {
        let mut created = Vec::new();
        let mut level = 0usize;
        let mut hash = leaf;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                break;
            };
            row.push(hash);
            created.push(Node {
                level: level as u32,
                index: row.len() as u64 - 1,
                hash,
            });
            match row.as_slice() {
                [.., left, right] if row.len().is_multiple_of(2) => {
                    hash = node_hash(left, right);
                    level += 1;
                }
                _ => break,
            }
        }
        created
    }

    /// Root of the whole tree.
    pub fn root(&self) -> Hash {
        root_from(self, self.size()).unwrap_or(EMPTY_ROOT)
    }

    /// Root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, MerkleError> {
        self.check_size(size)?;
        root_from(self, size)
    }

    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(size)?;
        inclusion_proof_from(self, index, size)
    }

    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(new)?;
        consistency_proof_from(self, old, new)
    }

    fn check_size(&self, size: u64) -> Result<(), MerkleError> {
        let available = self.size();
        if size > available {
            return Err(MerkleError::SizeUnavailable { size, available });
        }
        Ok(())
    }
}

impl NodeSource for MemoryTree {
    type Error = MerkleError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        usize::try_from(level)
            .ok()
            .and_then(|l| self.levels.get(l))
            .and_then(|row| row.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MerkleError::MissingNode { level, index })
    }
}
