use std::cell::Cell;
use std::collections::BTreeMap;

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

fn h(hex_text: &str) -> Hash {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

// Published RFC 6962 vectors: transparency-dev/merkle, proof/verify_test.go (`leaves`, `roots`,
// `inclusionProofs`, `consistencyProofs`; the same data as certificate-transparency-go's
// merkle tests). Leaf hash = SHA-256(0x00 ‖ data), no nonce.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf number counted from 1, tree size, proof), as in the Go source.
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, proof), as in the Go source.
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn vector_leaves() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|d| rfc6962_leaf_hash(&hex::decode(d).unwrap()))
        .collect()
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|x| h(x)).collect()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8 % 32] ^= 1 << (bit % 8);
    out
}

#[test]
fn hashing_matches_rfc6962_and_our_leaf_layout() {
    assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
    assert_eq!(root(&[]), EMPTY_ROOT);
    assert_eq!(MemoryTree::new().root(), EMPTY_ROOT);
    // SHA-256(0x00 ‖ nonce ‖ record), computed with Python's hashlib.
    let nonce: Nonce = std::array::from_fn(|i| i as u8);
    assert_eq!(
        leaf_hash(&nonce, br#"{"seq":1}"#),
        h("22240b15062c57922211aae91f54c0ae75069db032028bc8ce6c9d8512834539")
    );
    assert_eq!(leaf_index(1), Ok(0));
    assert_eq!(leaf_index(0), Err(MerkleError::BadSeq(0)));
    assert_eq!(leaf_index(-3), Err(MerkleError::BadSeq(-3)));
}

#[test]
fn roots_match_published_vectors() {
    let leaves = vector_leaves();
    let mut tree = MemoryTree::new();
    for (n, expected) in ROOTS.iter().enumerate() {
        tree.append(leaves[n]);
        let size = n as u64 + 1;
        assert_eq!(root(&leaves[..=n]), h(expected), "slice, size {size}");
        assert_eq!(tree.root(), h(expected), "memory tree, size {size}");
        assert_eq!(tree.root_at(size).unwrap(), h(expected));
        assert_eq!(root_from(&tree, size).unwrap(), h(expected));
    }
    for size in 0..=8u64 {
        let expected = if size == 0 {
            EMPTY_ROOT
        } else {
            h(ROOTS[size as usize - 1])
        };
        assert_eq!(tree.root_at(size).unwrap(), expected);
    }
}

#[test]
fn inclusion_proofs_match_published_vectors_and_reject_corruption() {
    let leaves = vector_leaves();
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    for (leaf, size, proof) in INCLUSION {
        let index = leaf - 1;
        let proof = hashes(proof);
        let n = size as usize;
        assert_eq!(inclusion_proof(&leaves[..n], index).unwrap(), proof);
        assert_eq!(tree.inclusion_proof(index, size).unwrap(), proof);
        let root_hash = h(ROOTS[n - 1]);
        let leaf_hash = leaves[index as usize];
        verify_inclusion(&leaf_hash, index, size, &proof, &root_hash).unwrap();

        // The probes of the Go verifier tests.
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (
                index.wrapping_sub(1),
                size,
                root_hash,
                leaf_hash,
                proof.clone(),
            ),
            (index + 1, size, root_hash, leaf_hash, proof.clone()),
            (index ^ 2, size, root_hash, leaf_hash, proof.clone()),
            (index, size * 2, root_hash, leaf_hash, proof.clone()),
            (index, size / 2, root_hash, leaf_hash, proof.clone()),
            (index, size, root_hash, some, proof.clone()),
            (index, size, EMPTY_ROOT, leaf_hash, proof.clone()),
            (index, size, some, leaf_hash, proof.clone()),
            (
                index,
                size,
                root_hash,
                leaf_hash,
                [&proof[..], &[root_hash]].concat(),
            ),
            (
                index,
                size,
                root_hash,
                leaf_hash,
                [&[root_hash], &proof[..]].concat(),
            ),
        ];
        for i in 0..proof.len() {
            let mut wrong = proof.clone();
            wrong[i] = flip(&wrong[i], 3);
            probes.push((index, size, root_hash, leaf_hash, wrong));
        }
        if !proof.is_empty() {
            let short = proof[..proof.len() - 1].to_vec();
            probes.push((index, size, root_hash, leaf_hash, short));
        }
        for (i, (index, size, root_hash, leaf_hash, proof)) in probes.into_iter().enumerate() {
            assert!(
                verify_inclusion(&leaf_hash, index, size, &proof, &root_hash).is_err(),
                "probe {i} of leaf {leaf}/{size} verified"
            );
        }
    }
}

#[test]
fn consistency_proofs_match_published_vectors_and_reject_corruption() {
    let leaves = vector_leaves();
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    for (old, new, proof) in CONSISTENCY {
        let proof = hashes(proof);
        assert_eq!(
            consistency_proof(&leaves[..new as usize], old).unwrap(),
            proof
        );
        assert_eq!(tree.consistency_proof(old, new).unwrap(), proof);
        let (r1, r2) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        verify_consistency(old, new, &r1, &r2, &proof).unwrap();
        if proof.is_empty() {
            continue;
        }
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (old - 1, new, r1, r2, proof.clone()),
            (old + 1, new, r1, r2, proof.clone()),
            (old ^ 2, new, r1, r2, proof.clone()),
            (old, new * 2, r1, r2, proof.clone()),
            (old, new / 2, r1, r2, proof.clone()),
            (old, new, flip(&r1, 0), r2, proof.clone()),
            (old, new, r1, flip(&r2, 0), proof.clone()),
            (old, new, r2, r1, proof.clone()),
            (old, new, r1, r2, Vec::new()),
            (old, new, r1, r2, [&proof[..], &[r1]].concat()),
            (old, new, r1, r2, [&proof[..], &[r2]].concat()),
            (old, new, r1, r2, [&[r1], &proof[..]].concat()),
            (old, new, r1, r2, [&[r2], &proof[..]].concat()),
            (old, new, r1, r2, [&[proof[0]], &proof[..]].concat()),
            (old, new, r1, r2, proof[..proof.len() - 1].to_vec()),
        ];
        for i in 0..proof.len() {
            let mut wrong = proof.clone();
            wrong[i] = flip(&wrong[i], 4);
            probes.push((old, new, r1, r2, wrong));
        }
        for (i, (old, new, r1, r2, proof)) in probes.into_iter().enumerate() {
            assert!(
                verify_consistency(old, new, &r1, &r2, &proof).is_err(),
                "probe {i} of {old}->{new} verified"
            );
        }
    }
}

#[test]
fn edge_sizes_follow_the_reference_verifier() {
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    // Inclusion in an empty tree or past its end.
    for (index, size) in [(0, 0), (1, 0), (1, 1), (2, 1), (u64::MAX, u64::MAX)] {
        assert_eq!(
            verify_inclusion(&some, index, size, &[], &some),
            Err(MerkleError::IndexOutOfRange { index, size })
        );
    }
    verify_inclusion(&some, 0, 1, &[], &some).unwrap();
    assert!(verify_inclusion(&some, 0, 1, &[], &EMPTY_ROOT).is_err());
    // Consistency: equal sizes need equal roots and no proof; from 0 anything goes.
    verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]).unwrap();
    verify_consistency(0, 5, &EMPTY_ROOT, &some, &[]).unwrap();
    verify_consistency(3, 3, &some, &some, &[]).unwrap();
    assert!(verify_consistency(0, 5, &some, &some, &[]).is_err());
    assert!(verify_consistency(3, 3, &some, &EMPTY_ROOT, &[]).is_err());
    assert!(verify_consistency(3, 3, &some, &some, &[some]).is_err());
    assert!(verify_consistency(0, 1, &EMPTY_ROOT, &some, &[some]).is_err());
    assert_eq!(
        verify_consistency(2, 1, &some, &some, &[]),
        Err(MerkleError::SizesOutOfOrder { old: 2, new: 1 })
    );
    assert!(verify_consistency(1, 2, &some, &some, &[]).is_err());
    // Proof requests out of range.
    let tree = MemoryTree::from_leaves(vector_leaves());
    assert_eq!(
        tree.inclusion_proof(8, 8),
        Err(MerkleError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        tree.inclusion_proof(0, 9),
        Err(MerkleError::SizeUnavailable {
            size: 9,
            available: 8
        })
    );
    assert_eq!(
        tree.consistency_proof(5, 4),
        Err(MerkleError::SizesOutOfOrder { old: 5, new: 4 })
    );
    assert_eq!(tree.consistency_proof(0, 8), Ok(Vec::new()));
    assert_eq!(
        inclusion_proof(&[], 0),
        Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
    );
}

/// Fixed pseudo-random entries: nonce and record per seq.
fn entry(seq: u64) -> (Nonce, String) {
    let mut state = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let nonce = std::array::from_fn(|_| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        (state >> 56) as u8
    });
    (
        nonce,
        format!(r#"{{"seq":{seq},"data":"é{}"}}"#, state % 1000),
    )
}

#[test]
fn tampering_with_an_entry_proof_or_root_fails_naming_the_check() {
    let entries: Vec<_> = (1..=11).map(entry).collect();
    let leaves: Vec<Hash> = entries
        .iter()
        .map(|(n, r)| leaf_hash(n, r.as_bytes()))
        .collect();
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    let (size, seq) = (11u64, 6i64);
    let (nonce, record) = &entries[5];
    let proof = tree.inclusion_proof(5, size).unwrap();
    let root_hash = tree.root();
    verify_entry_inclusion(nonce, record.as_bytes(), seq, size, &proof, &root_hash).unwrap();

    let inclusion_failed = |result: Result<(), MerkleError>, what: &str| {
        let err = result.expect_err(what);
        assert_eq!(
            err,
            MerkleError::InclusionRootMismatch { index: 5, size },
            "{what}"
        );
        let message = err.to_string();
        assert!(
            message.contains("inclusion proof for leaf 5 of a tree of size 11")
                && message.contains("does not lead to the root"),
            "{what}: {message}"
        );
    };
    let mut bad_nonce = *nonce;
    bad_nonce[7] ^= 0x10;
    inclusion_failed(
        verify_entry_inclusion(&bad_nonce, record.as_bytes(), seq, size, &proof, &root_hash),
        "flipped nonce bit",
    );
    let mut bad_record = record.clone().into_bytes();
    bad_record[3] ^= 0x01;
    inclusion_failed(
        verify_entry_inclusion(nonce, &bad_record, seq, size, &proof, &root_hash),
        "flipped record bit",
    );
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i] = flip(&bad[i], 77);
        inclusion_failed(
            verify_entry_inclusion(nonce, record.as_bytes(), seq, size, &bad, &root_hash),
            "flipped proof bit",
        );
    }
    inclusion_failed(
        verify_entry_inclusion(
            nonce,
            record.as_bytes(),
            seq,
            size,
            &proof,
            &flip(&root_hash, 200),
        ),
        "flipped root bit",
    );
    let err = verify_entry_inclusion(nonce, record.as_bytes(), seq, size, &proof[1..], &root_hash)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "inclusion proof has 3 hashes, but leaf 5 of a tree of size 11 needs 4"
    );

    // Consistency: a flipped proof hash or root names the root it failed to reproduce.
    let old_root = tree.root_at(6).unwrap();
    let proof = tree.consistency_proof(6, size).unwrap();
    verify_consistency(6, size, &old_root, &root_hash, &proof).unwrap();
    let err = verify_consistency(6, size, &flip(&old_root, 1), &root_hash, &proof).unwrap_err();
    assert!(
        err.to_string().contains("does not reproduce the old root"),
        "{err}"
    );
    let err = verify_consistency(6, size, &old_root, &flip(&root_hash, 1), &proof).unwrap_err();
    assert!(
        err.to_string().contains("does not reproduce the new root"),
        "{err}"
    );
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i] = flip(&bad[i], 9);
        let err = verify_consistency(6, size, &old_root, &root_hash, &bad).unwrap_err();
        assert!(
            matches!(
                err,
                MerkleError::OldRootMismatch { .. } | MerkleError::NewRootMismatch { .. }
            ),
            "{err}"
        );
    }

    // A malformed proof hash in API form is named by position.
    let mut text = encode_proof(&proof);
    text[1].pop();
    assert_eq!(
        decode_proof(&text),
        Err(MerkleError::BadProofHash { position: 1 })
    );
    assert_eq!(decode_proof(&encode_proof(&proof)), Ok(proof));
    assert_eq!(decode_root("AAAA"), Err(MerkleError::BadRootHash));
    assert_eq!(decode_root(&encode_hash(&root_hash)), Ok(root_hash));
}

/// Counts reads, so tests can hold storage to O(log n) node lookups.
struct Counting<'a> {
    tree: &'a MemoryTree,
    reads: Cell<usize>,
}

impl NodeSource for Counting<'_> {
    type Error = MerkleError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        self.reads.set(self.reads.get() + 1);
        self.tree.node(level, index)
    }
}

fn log2_ceil(n: u64) -> usize {
    (64 - n.saturating_sub(1).leading_zeros()) as usize
}

#[test]
fn stored_nodes_give_the_same_proofs_with_logarithmic_reads() {
    let leaves: Vec<Hash> = (1..=200)
        .map(|s| {
            let (nonce, record) = entry(s);
            leaf_hash(&nonce, record.as_bytes())
        })
        .collect();
    let mut tree = MemoryTree::new();
    let mut rows = BTreeMap::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let size_before = i as u64;
        let expected = append_nodes(&tree, size_before, *leaf).unwrap();
        let reads = nodes_for_append(size_before).unwrap();
        assert_eq!(reads.len(), expected.len() - 1);
        let created = tree.append(*leaf);
        assert_eq!(created, expected, "append {size_before}");
        assert_eq!(created[0].level, 0);
        assert_eq!(created[0].index, size_before);
        for node in created {
            assert!(
                rows.insert(node.id(), node.hash).is_none(),
                "row written twice"
            );
        }
    }
    // One row per leaf plus one per completed parent: 2n - popcount(n).
    assert_eq!(rows.len(), 2 * 200 - 200u64.count_ones() as usize);

    let counting = Counting {
        tree: &tree,
        reads: Cell::new(0),
    };
    for size in 1..=200u64 {
        let slice = &leaves[..size as usize];
        counting.reads.set(0);
        assert_eq!(root_from(&counting, size).unwrap(), root(slice));
        assert!(counting.reads.get() <= log2_ceil(size) + 1);
        assert_eq!(nodes_for_root(size).len(), counting.reads.get());
        for index in [0, size / 3, size / 2, size - 1] {
            counting.reads.set(0);
            let proof = inclusion_proof_from(&counting, index, size).unwrap();
            assert!(
                counting.reads.get() <= 2 * log2_ceil(size) + 1,
                "{index}/{size}"
            );
            assert_eq!(proof, inclusion_proof(slice, index).unwrap());
            let wanted = nodes_for_inclusion(index, size).unwrap();
            let fetched: BTreeMap<NodeId, Hash> = wanted.iter().map(|id| (*id, rows[id])).collect();
            assert_eq!(inclusion_proof_from(&fetched, index, size).unwrap(), proof);
            assert_eq!(proof.len(), inclusion_proof_len(index, size).unwrap());
        }
        for old in [1, size / 2, size.saturating_sub(1), size] {
            counting.reads.set(0);
            let proof = consistency_proof_from(&counting, old, size).unwrap();
            assert!(
                counting.reads.get() <= 2 * log2_ceil(size) + 2,
                "{old}->{size}"
            );
            assert_eq!(proof, consistency_proof(slice, old).unwrap());
            let wanted = nodes_for_consistency(old, size).unwrap();
            let fetched: std::collections::HashMap<NodeId, Hash> =
                wanted.iter().map(|id| (*id, rows[id])).collect();
            assert_eq!(consistency_proof_from(&fetched, old, size).unwrap(), proof);
            assert_eq!(proof.len(), consistency_proof_len(old, size).unwrap());
        }
    }
    // A missing row is named.
    let empty: BTreeMap<NodeId, Hash> = BTreeMap::new();
    assert_eq!(
        root_from(&empty, 3),
        Err(MerkleError::MissingNode { level: 1, index: 0 })
    );
}

fn arb_hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>()
}

fn arb_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..70u64,
        any::<u64>(),
        (0..64u32).prop_map(|b| 1u64 << b),
        Just(u64::MAX)
    ]
}

proptest! {
    #[test]
    fn verifiers_and_planners_never_panic(
        a in arb_size(),
        b in arb_size(),
        leaf in arb_hash(),
        root_hash in arb_hash(),
        proof in prop::collection::vec(arb_hash(), 0..70),
    ) {
        let _ = verify_inclusion(&leaf, a, b, &proof, &root_hash);
        let _ = verify_inclusion(&leaf, b, a, &proof, &root_hash);
        let _ = verify_consistency(a, b, &leaf, &root_hash, &proof);
        let _ = verify_consistency(b, a, &leaf, &root_hash, &proof);
        let _ = inclusion_proof_len(a, b);
        let _ = consistency_proof_len(a, b);
        let _ = nodes_for_root(a);
        let _ = nodes_for_inclusion(a, b);
        let _ = nodes_for_consistency(a, b);
        let _ = nodes_for_append(a);
        let _ = inclusion_proof(&proof, a);
        let _ = consistency_proof(&proof, a);
    }

    #[test]
    fn generated_proofs_verify_and_wrong_ones_do_not(
        n in 1..150u64,
        x in any::<u64>(),
        y in any::<u64>(),
        bit in 0..256usize,
    ) {
        let leaves: Vec<Hash> = (0..n).map(|i| rfc6962_leaf_hash(&i.to_le_bytes())).collect();
        let tree = MemoryTree::from_leaves(leaves.iter().copied());
        let index = x % n;
        let proof = tree.inclusion_proof(index, n).unwrap();
        prop_assert_eq!(proof.len(), inclusion_proof_len(index, n).unwrap());
        prop_assert!(verify_inclusion(&leaves[index as usize], index, n, &proof, &tree.root()).is_ok());
        prop_assert!(verify_inclusion(&flip(&leaves[index as usize], bit), index, n, &proof, &tree.root()).is_err());
        let old = y % (n + 1);
        let old_root = tree.root_at(old).unwrap();
        let proof = tree.consistency_proof(old, n).unwrap();
        prop_assert_eq!(proof.len(), consistency_proof_len(old, n).unwrap());
        prop_assert!(verify_consistency(old, n, &old_root, &tree.root(), &proof).is_ok());
        if old > 0 && old < n {
            prop_assert!(verify_consistency(old, n, &flip(&old_root, bit), &tree.root(), &proof).is_err());
            prop_assert!(verify_consistency(old, n, &old_root, &flip(&tree.root(), bit), &proof).is_err());
        }
    }
}
