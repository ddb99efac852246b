//! Cross-checks of the receipts code against implementations that share nothing with it:
//! `tests/merkle/independent.py` (RFC 9162 MTH/PATH/PROOF written from the RFC, hashlib only)
//! and `tests/merkle/verify_note.py` (C2SP signed-note with the `cryptography` package).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use trialgate::audit::merkle::{
    consistency_proof, encode_hash, encode_proof, inclusion_proof, leaf_hash, root,
    verify_consistency, verify_entry_inclusion, verify_inclusion, Hash, MemoryTree, Nonce,
};
use trialgate::audit::note::{self, SignedCheckpoint, DEFAULT_ORIGIN};

const LEAVES: u64 = 300;
const RANDOM_PAIRS: usize = 500;

/// splitmix64: fixed pseudo-random numbers, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn entries(rng: &mut Rng) -> Vec<(Nonce, String)> {
    (1..=LEAVES)
        .map(|seq| {
            let nonce: Nonce = std::array::from_fn(|_| rng.next() as u8);
            let words = ["enrolled", "randomized", "ärm B", "漢字", "\"quoted\"", ""];
            let word = words[rng.below(words.len() as u64) as usize];
            let record = json!({"seq": seq, "action": word, "n": rng.next() % 10_000});
            (nonce, record.to_string())
        })
        .collect()
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/merkle")
        .join(name)
}

fn run_python(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("python3")
        .args(args)
        .output()
        .expect("python3 must be on PATH for the independent Merkle check")
}

#[test]
fn rust_agrees_with_an_independent_rfc9162_implementation() {
    let mut rng = Rng(0x7269_616c_6761_7465);
    let entries = entries(&mut rng);
    let leaves: Vec<Hash> = entries
        .iter()
        .map(|(nonce, record)| leaf_hash(nonce, record.as_bytes()))
        .collect();
    let tree = MemoryTree::from_leaves(leaves.iter().copied());

    let roots: Vec<Hash> = (0..=LEAVES).map(|n| tree.root_at(n).unwrap()).collect();
    for (n, r) in roots.iter().enumerate() {
        assert_eq!(*r, root(&leaves[..n]), "slice root, size {n}");
    }

    let mut inclusion_cases = Vec::new();
    let mut consistency_cases = Vec::new();
    for size in 1..=LEAVES {
        for index in [0, size - 1, rng.below(size)] {
            inclusion_cases.push((index, size));
        }
        consistency_cases.push((size - 1, size));
        consistency_cases.push((rng.below(size + 1), size));
    }
    for _ in 0..RANDOM_PAIRS {
        let size = 1 + rng.below(LEAVES);
        inclusion_cases.push((rng.below(size), size));
        let new = rng.below(LEAVES + 1);
        consistency_cases.push((rng.below(new + 1), new));
    }

    let mut inclusion = Vec::new();
    for &(index, size) in &inclusion_cases {
        let proof = tree.inclusion_proof(index, size).unwrap();
        assert_eq!(
            proof,
            inclusion_proof(&leaves[..size as usize], index).unwrap()
        );
        let (nonce, record) = &entries[index as usize];
        let seq = index as i64 + 1;
        let root_hash = &roots[size as usize];
        verify_inclusion(&leaves[index as usize], index, size, &proof, root_hash).unwrap();
        verify_entry_inclusion(nonce, record.as_bytes(), seq, size, &proof, root_hash).unwrap();
        inclusion.push(json!({"index": index, "size": size, "proof": encode_proof(&proof)}));
    }
    let mut consistency = Vec::new();
    for &(old, new) in &consistency_cases {
        let proof = tree.consistency_proof(old, new).unwrap();
        assert_eq!(
            proof,
            consistency_proof(&leaves[..new as usize], old).unwrap()
        );
        verify_consistency(old, new, &roots[old as usize], &roots[new as usize], &proof).unwrap();
        consistency.push(json!({"old": old, "new": new, "proof": encode_proof(&proof)}));
    }

    let leaves_json: Vec<Value> = entries
        .iter()
        .zip(&leaves)
        .map(|((nonce, record), leaf)| {
            json!({"nonce": encode_hash(nonce), "record": record, "leaf_hash": encode_hash(leaf)})
        })
        .collect();
    let mut data = json!({
        "leaves": leaves_json,
        "roots": roots.iter().map(encode_hash).collect::<Vec<_>>(),
        "inclusion": inclusion,
        "consistency": consistency,
    });

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("merkle.json");
    std::fs::write(&file, data.to_string()).unwrap();
    let out = run_python(&[script("independent.py").as_os_str(), file.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "independent check disagrees: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}", stdout.trim());
    assert!(stdout.contains(&format!("{LEAVES} leaves")), "{stdout}");

    // The script does check: one wrong hash is named.
    let proof = data["inclusion"][400]["proof"][0]
        .as_str()
        .unwrap()
        .to_string();
    let wrong = encode_hash(&[0x55; 32]);
    assert_ne!(proof, wrong);
    data["inclusion"][400]["proof"][0] = json!(wrong);
    std::fs::write(&file, data.to_string()).unwrap();
    let out = run_python(&[script("independent.py").as_os_str(), file.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("MISMATCH: inclusion proof of leaf") && stderr.contains("hash 0 is"),
        "{stderr}"
    );
}

fn cryptography_available() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn checkpoint_note_verifies_with_python_cryptography() {
    if !cryptography_available() {
        // CI installs it and must not skip; a developer's machine may lack it.
        assert!(
            std::env::var_os("TRIALGATE_REQUIRE_PYTHON_CRYPTOGRAPHY").is_none(),
            "the Python package `cryptography` is required here (pip install cryptography)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED checkpoint_note_verifies_with_python_cryptography: the Python \
             package `cryptography` is not importable (pip install cryptography) !!!!!!!!\n"
        );
        return;
    }
    let mut rng = Rng(42);
    let entries = entries(&mut rng);
    let tree = MemoryTree::from_leaves(
        entries
            .iter()
            .map(|(nonce, record)| leaf_hash(nonce, record.as_bytes())),
    );
    let key = SigningKey::from_bytes(&[0x42; 32]);
    let public = base64_encode(key.verifying_key().as_bytes());
    let checkpoint = SignedCheckpoint::for_trial(DEFAULT_ORIGIN, "NCT06987370", 300, tree.root());
    let ours = note::sign(&checkpoint, &key, DEFAULT_ORIGIN).unwrap();

    // Put a witness's signature line before ours: verifiers must skip it.
    let witness = note::sign(
        &checkpoint,
        &SigningKey::from_bytes(&[0x17; 32]),
        "witness.example/w",
    )
    .unwrap();
    let (body, our_line) = ours.split_once("\n\n").unwrap();
    let witness_line = witness.split_once("\n\n").unwrap().1;
    let text = format!("{body}\n\n{witness_line}{our_line}");
    assert_eq!(
        note::parse_and_verify(&text, DEFAULT_ORIGIN, &key.verifying_key()).unwrap(),
        checkpoint
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoint.note");
    std::fs::write(&file, &text).unwrap();
    let verify = |file: &std::path::Path| {
        run_python(&[
            script("verify_note.py").as_os_str(),
            file.as_os_str(),
            DEFAULT_ORIGIN.as_ref(),
            public.as_ref(),
        ])
    };
    let out = verify(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "Python rejected our note: {stderr}");
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        parsed,
        json!({"origin": "trialgate/NCT06987370", "size": 300, "root": encode_hash(&tree.root())})
    );

    // A changed size breaks the signature for Python too.
    std::fs::write(&file, text.replace("\n300\n", "\n299\n")).unwrap();
    let out = verify(&file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
