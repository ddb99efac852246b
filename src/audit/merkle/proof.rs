//! Proofs over a slice of leaf hashes, and the RFC 9162 verifiers. The verifiers never panic:
//! any sizes, indices and proof lengths are answered with a [`MerkleError`].

use super::nodes::{consistency_proof_from, inclusion_proof_from, NodeSource};
use super::{leaf_hash, leaf_index, node_hash, split_point, Hash, MerkleError, Nonce, EMPTY_ROOT};

/// `MTH(D[n])` of the given leaf hashes (RFC 9162 §2.1.1).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => EMPTY_ROOT,
        [only] => *only,
        _ => {
            let k = usize::try_from(split_point(leaves.len() as u64)).unwrap_or(leaves.len() / 2);
            let (left, right) = leaves.split_at(k.min(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// Inclusion proof for leaf `index` in the tree of all `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    inclusion_proof_from(&Leaves(leaves), index, leaves.len() as u64)
}

/// Consistency proof from the tree of the first `old` leaves to the tree of all `leaves`.
pub fn consistency_proof(leaves: &[Hash], old: u64) -> Result<Vec<Hash>, MerkleError> {
    consistency_proof_from(&Leaves(leaves), old, leaves.len() as u64)
}

/// Complete subtrees computed from the leaves on demand.
struct Leaves<'a>(&'a [Hash]);

impl NodeSource for Leaves<'_> {
    type Error = MerkleError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        let missing = MerkleError::MissingNode { level, index };
        let len = 1u64.checked_shl(level).ok_or(missing.clone())?;
        let start = index.checked_mul(len).ok_or(missing.clone())?;
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(start, len)| self.0.get(start..start.checked_add(len)?))
            .ok_or(missing)?;
        Ok(root(range))
    }
}

/// Number of hashes in the inclusion proof of leaf `index` in a tree of `size` (`index < size`).
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    Ok((inner + border) as usize)
}

/// Number of hashes in the consistency proof from `old` to `new` leaves.
pub fn consistency_proof_len(old: u64, new: u64) -> Result<usize, MerkleError> {
    if old > new {
        return Err(MerkleError::SizesOutOfOrder { old, new });
    }
    if old == 0 || old == new {
        return Ok(0);
    }
    let (inner, border) = decompose(old - 1, new);
    let shift = old.trailing_zeros();
    let seed = u32::from(!old.is_power_of_two());
    Ok((inner.saturating_sub(shift) + border + seed) as usize)
}

/// The inclusion path of `index` in a tree of `size` splits into `inner` hashes below the
/// point where the path leaves the right edge and `border` hashes on the edge above it.
fn decompose(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` in the tree of `size` with `root`?
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(MerkleError::InclusionProofLength {
            index,
            size,
            got: proof.len(),
            expected,
        });
    }
    let mismatch = MerkleError::InclusionRootMismatch { index, size };
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(mismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 || r != *root {
        return Err(mismatch);
    }
    Ok(())
}

/// [`verify_inclusion`] for an audit entry: its nonce and record bytes, at leaf `seq - 1`.
pub fn verify_entry_inclusion(
    nonce: &Nonce,
    record: &[u8],
    seq: i64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    verify_inclusion(
        &leaf_hash(nonce, record),
        leaf_index(seq)?,
        size,
        proof,
        root,
    )
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree of `old` leaves with `old_root` is a prefix of
/// the tree of `new` leaves with `new_root`? Equal sizes need an empty proof and equal roots;
/// old size 0 needs an empty proof and the empty-tree root.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    let expected = consistency_proof_len(old, new)?;
    if proof.len() != expected {
        return Err(MerkleError::ConsistencyProofLength {
            old,
            new,
            got: proof.len(),
            expected,
        });
    }
    let old_mismatch = MerkleError::OldRootMismatch { old, new };
    let new_mismatch = MerkleError::NewRootMismatch { old, new };
    if old == 0 {
        return if *old_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(old_mismatch)
        };
    }
    if old == new {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(new_mismatch)
        };
    }
    // 2. A power-of-two old tree is itself a node of the new one: its root seeds the path.
    let mut path = proof.iter();
    let seed = if old.is_power_of_two() {
        *old_root
    } else {
        match path.next() {
            Some(first) => *first,
            None => return Err(old_mismatch),
        }
    };
    // 3.–4.
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5.–6.
    let (mut fr, mut sr) = (seed, seed);
    for c in path {
        if snode == 0 {
            return Err(new_mismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // 7.
    if fr != *old_root {
        return Err(old_mismatch);
    }
    if snode != 0 || sr != *new_root {
        return Err(new_mismatch);
    }
    Ok(())
}
