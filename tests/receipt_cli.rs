//! `trialgate receipt verify`, run as a separate process like a monitor would, on receipts
//! built with the domain code: a fake trial chain (random nonces, real record texts) as a
//! Merkle tree, its checkpoints signed with a fresh key. A valid receipt passes with one
//! sentence; every tampering and every malformed file fails, naming what failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::NaiveDate;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use trialgate::audit::merkle::{encode_hash, encode_proof, leaf_hash, MemoryTree, Nonce};
use trialgate::audit::note::{self, SignedCheckpoint, DEFAULT_ORIGIN};
use trialgate::audit::{next_entry, Entry, GENESIS_HASH};

const TRIAL: &str = "NCT06987370";
const ENTRIES: i64 = 20;
/// The one `subject.withdrawn` entry of the fake chain.
const WITHDRAWN_SEQ: u64 = 16;

fn trialgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialgate"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("TRIALGATE_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

fn subject_id(seq: i64) -> String {
    format!("{TRIAL}-{seq:04}")
}

/// Entry `seq`'s action and data: seq 1 initializes the trial, even seqs record screenings,
/// odd seqs from 3 randomize a subject, and [`WITHDRAWN_SEQ`] withdraws one.
fn event(seq: i64) -> (&'static str, Value) {
    match seq {
        1 => (
            "trial.initialized",
            json!({"seed_commitment": "ab".repeat(32)}),
        ),
        s if s as u64 == WITHDRAWN_SEQ => (
            "subject.withdrawn",
            json!({"subject_id": subject_id(3), "reason": "moved away"}),
        ),
        s if s % 2 == 0 => (
            "screening.recorded",
            json!({"screening_id": format!("scr-{s}"), "outcome": "eligible"}),
        ),
        s => (
            "subject.randomized",
            json!({
                "subject_id": subject_id(s),
                "screening_id": format!("scr-{}", s - 1),
                "patient_ref": format!("SITE01-{s:04}"),
                "site": if s % 4 == 1 { "SITE01" } else { "SITE02" },
                "arm": if s % 3 == 0 { "CRT" } else { "SFRT_SCART" },
                "sequence": (s - 1) / 2,
                "stratum_key": "",
                "stratum_position": (s - 1) / 2,
            }),
        ),
    }
}

/// A trial's chain, its Merkle tree and its checkpoint key.
struct Log {
    key: SigningKey,
    key_name: String,
    entries: Vec<(Nonce, Entry)>,
    tree: MemoryTree,
}

impl Log {
    fn new() -> Self {
        Self::with_key_name(DEFAULT_ORIGIN)
    }

    fn with_key_name(key_name: &str) -> Self {
        let mut entries: Vec<(Nonce, Entry)> = Vec::new();
        let start = NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_micro_opt(8, 30, 0, 123_456)
            .unwrap();
        for seq in 1..=ENTRIES {
            let (head_seq, head_hash) = entries
                .last()
                .map_or((0, GENESIS_HASH.to_string()), |(_, e)| {
                    (e.seq, e.hash.clone())
                });
            let (action, data) = event(seq);
            let at = start + chrono::Duration::minutes(seq);
            let entry = next_entry(
                head_seq,
                &head_hash,
                at,
                "paul",
                "pharmacist",
                action,
                TRIAL,
                &data,
            )
            .unwrap();
            entries.push((random(), entry));
        }
        let mut log = Self {
            key: SigningKey::from_bytes(&random()),
            key_name: key_name.to_string(),
            entries,
            tree: MemoryTree::new(),
        };
        log.rebuild();
        log
    }

    fn rebuild(&mut self) {
        self.tree = MemoryTree::from_leaves(
            self.entries
                .iter()
                .map(|(nonce, e)| leaf_hash(nonce, e.record.as_bytes())),
        );
    }

    /// Replaces entry `seq`'s record text (a server that logged something odd).
    fn with_record(mut self, seq: u64, record: &str) -> Self {
        self.entries[seq as usize - 1].1.record = record.to_string();
        self.rebuild();
        self
    }

    fn record(&self, seq: u64) -> &str {
        &self.entries[seq as usize - 1].1.record
    }

    /// The signed note of the tree of `size` entries, with origin `{origin}`.
    fn note(&self, origin: &str, size: u64) -> String {
        let checkpoint = SignedCheckpoint {
            origin: origin.to_string(),
            size,
            root: self.tree.root_at(size).unwrap(),
        };
        note::sign(&checkpoint, &self.key, &self.key_name).unwrap()
    }

    fn origin(&self) -> String {
        format!("{}/{TRIAL}", self.key_name)
    }

    /// What the server returns for the subject randomized at `seq`.
    fn receipt(&self, seq: u64) -> Value {
        self.receipt_in(seq, seq)
    }

    /// A receipt for entry `seq` proven in the tree of `size` entries (`size != seq` is what
    /// the verifier must refuse).
    fn receipt_in(&self, seq: u64, size: u64) -> Value {
        let (nonce, entry) = &self.entries[seq as usize - 1];
        let subject = entry
            .record
            .parse::<Value>()
            .ok()
            .and_then(|r| r["data"]["subject_id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| subject_id(seq as i64));
        json!({
            "subject_id": subject,
            "seq": seq,
            "nonce": BASE64.encode(nonce),
            "record": entry.record,
            "tree_size": size,
            "proof": encode_proof(&self.tree.inclusion_proof(seq - 1, size).unwrap()),
            "checkpoint": self.note(&self.origin(), size),
        })
    }

    fn public_key(&self) -> String {
        BASE64.encode(self.key.verifying_key().as_bytes())
    }

    fn key_id(&self) -> String {
        hex::encode(note::key_id(&self.key_name, &self.key.verifying_key()))
    }
}

fn run_on_bytes(bytes: &[u8], args: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipt.json");
    std::fs::write(&path, bytes).unwrap();
    let output = run_on_path(&path, args);
    (output, path.display().to_string())
}

fn run_on_path(path: &Path, args: &[&str]) -> Output {
    trialgate()
        .args(["receipt", "verify"])
        .arg(path)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Runs `receipt verify` and asserts success; returns stdout.
fn passes(log: &Log, receipt: &Value, extra: &[&str]) -> String {
    let key = log.public_key();
    let mut args = vec!["--public-key", key.as_str()];
    args.extend_from_slice(extra);
    let (o, _) = run_on_bytes(receipt.to_string().as_bytes(), &args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(o.stderr.is_empty(), "stderr: {}", text(&o.stderr));
    text(&o.stdout)
}

/// Runs `receipt verify` on these bytes and asserts it fails with
/// `trialgate: receipt PATH: …` naming `expected`; returns the message after the path.
fn fails_bytes(bytes: &[u8], public_key: &str, extra: &[&str], expected: &str) -> String {
    let mut args = vec!["--public-key", public_key];
    args.extend_from_slice(extra);
    let (o, path) = run_on_bytes(bytes, &args);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {stderr}");
    assert!(o.stdout.is_empty(), "stdout: {}", text(&o.stdout));
    let prefix = format!("trialgate: receipt {path}: ");
    let message = stderr
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("stderr does not start with {prefix:?}: {stderr}"));
    assert!(
        message.contains(expected),
        "expected {expected:?} in: {message}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    message.trim_end().to_string()
}

fn fails(log: &Log, receipt: &Value, expected: &str) -> String {
    fails_bytes(
        receipt.to_string().as_bytes(),
        &log.public_key(),
        &[],
        expected,
    )
}

/// Flips one bit of a standard-base64 32-byte value.
fn flip(b64: &str) -> String {
    let mut bytes = BASE64.decode(b64).unwrap();
    bytes[7] ^= 0x01;
    BASE64.encode(bytes)
}

#[test]
fn a_valid_receipt_passes_with_one_sentence() {
    let log = Log::new();
    let out = passes(&log, &log.receipt(5), &[]);
    let record: Value = log.record(5).parse().unwrap();
    assert_eq!(record["data"]["arm"], "SFRT_SCART");
    assert_eq!(
        out,
        format!(
            "Receipt valid: subject {TRIAL}-0005 was randomized to SFRT_SCART at SITE01 on {} as \
             entry 5 of trial {TRIAL}'s audit log, and the log's tree of 5 entries is signed by \
             key {}.\n",
            record["at"].as_str().unwrap(),
            log.key_id()
        )
    );
    assert!(out.contains("on 2026-11-20T08:35:00.123456Z as entry 5"));
}

#[test]
fn every_randomization_of_the_chain_has_a_valid_receipt() {
    // Odd seqs from 3: tree sizes with and without a power of two, proofs of several lengths.
    let log = Log::new();
    for seq in (3..=ENTRIES as u64).step_by(2) {
        let out = passes(&log, &log.receipt(seq), &[]);
        assert!(
            out.starts_with(&format!(
                "Receipt valid: subject {} was randomized to ",
                subject_id(seq as i64)
            )),
            "{out}"
        );
        assert!(out.contains(&format!("tree of {seq} entries")), "{out}");
    }
}

#[test]
fn the_first_entry_in_a_tree_of_one_has_an_empty_proof() {
    let first = json!({
        "seq": 1, "at": "2026-11-20T08:31:00.000000Z", "actor": "paul", "role": "pharmacist",
        "action": "subject.randomized", "trial": TRIAL,
        "data": {"subject_id": subject_id(1), "site": "SITE01", "arm": "CRT"},
    })
    .to_string();
    let log = Log::new().with_record(1, &first);
    let receipt = log.receipt(1);
    assert_eq!(receipt["proof"], json!([]));
    let out = passes(&log, &receipt, &[]);
    assert!(out.contains("randomized to CRT at SITE01"), "{out}");
}

#[test]
fn another_log_origin_needs_the_origin_flag() {
    let log = Log::with_key_name("trials.example.org/log");
    let receipt = log.receipt(7);
    let out = passes(&log, &receipt, &["--origin", "trials.example.org/log"]);
    assert!(out.starts_with("Receipt valid: subject"), "{out}");
    fails(&log, &receipt, "no signature line for key trialgate");
}

#[test]
fn tampered_leaf_or_proof_fails_inclusion() {
    let log = Log::new();
    let good = log.receipt(13);

    let mut r = good.clone();
    r["nonce"] = json!(flip(r["nonce"].as_str().unwrap()));
    let m = fails(
        &log,
        &r,
        "inclusion: inclusion proof for leaf 12 of a tree of size 13",
    );
    assert!(m.contains("does not lead to the root"), "{m}");

    // One byte of the record: the arm.
    let mut r = good.clone();
    let record = r["record"].as_str().unwrap().to_string();
    assert!(record.contains(r#""arm":"SFRT_SCART""#), "{record}");
    r["record"] = json!(record.replace(r#""arm":"SFRT_SCART""#, r#""arm":"SFRT_SCARS""#));
    fails(&log, &r, "inclusion: inclusion proof for leaf 12");

    let mut r = good.clone();
    r["proof"][1] = json!(flip(r["proof"][1].as_str().unwrap()));
    fails(&log, &r, "does not lead to the root");

    let mut r = good.clone();
    r["proof"].as_array_mut().unwrap().pop();
    fails(
        &log,
        &r,
        "inclusion: inclusion proof has 1 hashes, but leaf 12 of a tree of size 13 needs 2",
    );

    let mut r = good.clone();
    r["proof"][0] = json!("not base64!");
    fails(
        &log,
        &r,
        "proof: proof hash 0 is not standard base64 of 32 bytes",
    );

    let mut r = good;
    r["nonce"] = json!(BASE64.encode([1u8; 31]));
    fails(&log, &r, "nonce is not standard base64 of 32 bytes");
}

#[test]
fn wrong_key_or_forged_checkpoint_fails_the_signature() {
    let log = Log::new();
    let receipt = log.receipt(11);
    let other = BASE64.encode(SigningKey::from_bytes(&random()).verifying_key().as_bytes());
    fails_bytes(
        receipt.to_string().as_bytes(),
        &other,
        &[],
        "checkpoint: no signature line for key trialgate with key id",
    );

    // Same key id, but the note's root was changed after signing.
    let mut r = receipt.clone();
    let note = r["checkpoint"].as_str().unwrap().to_string();
    let root = encode_hash(&log.tree.root_at(11).unwrap());
    r["checkpoint"] = json!(note.replace(&root, &flip(&root)));
    fails(
        &log,
        &r,
        "checkpoint: the signature by key trialgate does not verify over the note text",
    );

    let mut r = receipt;
    r["checkpoint"] = json!("trialgate/NCT06987370\n11\n");
    fails(&log, &r, "checkpoint: note has no blank line");
}

#[test]
fn sizes_must_agree_and_end_at_the_entry() {
    let log = Log::new();

    // The note is for 13 entries, the receipt says 11.
    let mut r = log.receipt(11);
    r["checkpoint"] = json!(log.note(&log.origin(), 13));
    fails(
        &log,
        &r,
        "checkpoint is for a tree of 13 entries, but the receipt says tree_size 11",
    );

    // A correct proof of entry 5 in the signed tree of 12: still not a receipt.
    let r = log.receipt_in(5, 12);
    fails(&log, &r, "tree_size 12 is not seq 5");

    let mut r = log.receipt(5);
    r["seq"] = json!(0);
    fails(&log, &r, "seq 0 names no entry");
}

#[test]
fn the_record_must_be_this_subjects_randomization_in_this_trial() {
    let log = Log::new();

    // A logged, correctly proven withdrawal is not a randomization receipt.
    let r = log.receipt(WITHDRAWN_SEQ);
    fails(
        &log,
        &r,
        r#"record is a "subject.withdrawn" entry, not subject.randomized"#,
    );

    let mut r = log.receipt(13);
    r["subject_id"] = json!(subject_id(15));
    fails(
        &log,
        &r,
        r#"record randomized subject "NCT06987370-0013", but the receipt is for subject "NCT06987370-0015""#,
    );

    // Signed for another trial's log.
    let mut r = log.receipt(13);
    r["checkpoint"] = json!(log.note("trialgate/NCT00000001", 13));
    fails(
        &log,
        &r,
        r#"record belongs to trial "NCT06987370", but the checkpoint is for trial "NCT00000001""#,
    );

    // Signed by our key, but not a trialgate origin.
    let mut r = log.receipt(13);
    r["checkpoint"] = json!(log.note("othergate/NCT06987370", 13));
    fails(
        &log,
        &r,
        r#"checkpoint origin "othergate/NCT06987370" is not trialgate/<trial>"#,
    );
}

#[test]
fn odd_records_that_were_logged_are_refused_by_content() {
    let record = |seq: u64, f: &dyn Fn(&mut Value)| {
        let log = Log::new();
        let mut value: Value = log.record(seq).parse().unwrap();
        f(&mut value);
        log.with_record(seq, &value.to_string())
    };

    let log = record(7, &|r| r["seq"] = json!(8));
    fails(
        &log,
        &log.receipt(7),
        "record has seq 8, but the receipt says seq 7",
    );

    let log = record(7, &|r| r["seq"] = json!("7"));
    fails(
        &log,
        &log.receipt(7),
        r#"record has seq "7", but the receipt says seq 7"#,
    );

    let log = record(7, &|r| {
        r.as_object_mut().unwrap().remove("action");
    });
    fails(&log, &log.receipt(7), r#"record has no "action" string"#);

    let log = record(7, &|r| {
        r["data"].as_object_mut().unwrap().remove("arm");
    });
    fails(&log, &log.receipt(7), r#"record has no "arm" string"#);

    let log = record(7, &|r| r["data"] = json!([1]));
    fails(&log, &log.receipt(7), r#"record has no "data" object"#);

    let log = Log::new().with_record(7, "{\"seq\":7,");
    fails(&log, &log.receipt(7), "record is not a JSON object: EOF");

    let log = Log::new().with_record(7, "[7]");
    fails(
        &log,
        &log.receipt(7),
        "record is not a JSON object: it is not an object",
    );
}

#[test]
fn malformed_files_are_refused_naming_the_problem() {
    let log = Log::new();
    let key = log.public_key();
    let good = log.receipt(5);

    let mut r = good.clone();
    r["extra"] = json!(1);
    fails(&log, &r, "not a receipt: unknown field `extra`");

    let mut r = good.clone();
    r.as_object_mut().unwrap().remove("proof");
    fails(&log, &r, "not a receipt: missing field `proof`");

    let mut r = good.clone();
    r["seq"] = json!(-5);
    fails(&log, &r, "not a receipt: invalid value: integer `-5`");

    let mut r = good.clone();
    r["tree_size"] = json!("5");
    fails(&log, &r, "not a receipt: invalid type: string \"5\"");

    let text = good.to_string();
    fails_bytes(
        &text.as_bytes()[..text.len() / 2],
        &key,
        &[],
        "not a receipt: EOF",
    );
    fails_bytes(b"", &key, &[], "not a receipt: the file is empty");
    fails_bytes(
        b"[]",
        &key,
        &[],
        "not a receipt: a receipt is a JSON object",
    );
    fails_bytes(
        b" \n 7",
        &key,
        &[],
        "not a receipt: a receipt is a JSON object",
    );

    let mut bytes = text.into_bytes();
    bytes.insert(10, 0xff);
    fails_bytes(
        &bytes,
        &key,
        &[],
        "the file is not UTF-8 text (invalid byte at offset 10)",
    );
}

#[test]
fn hostile_files_fail_without_crashing() {
    let log = Log::new();
    let key = log.public_key();

    // Larger than the limit: refused before parsing, without reading it all.
    let huge = vec![b' '; (1 << 20) + 10];
    fails_bytes(&huge, &key, &[], "the file is larger than 1048576 bytes");

    let deep = format!("{{\"proof\":{}", "[".repeat(100_000));
    fails_bytes(
        deep.as_bytes(),
        &key,
        &[],
        "not a receipt: invalid type: sequence",
    );
    let deep_log = Log::new().with_record(5, &"[".repeat(100_000));
    fails(
        &deep_log,
        &deep_log.receipt(5),
        "record is not a JSON object: recursion limit exceeded",
    );

    // Absurd sizes, consistently signed: the proof cannot have the length such a tree needs.
    let mut r = log.receipt(5);
    r["seq"] = json!(u64::MAX);
    r["tree_size"] = json!(u64::MAX);
    r["checkpoint"] = json!(note::sign(
        &SignedCheckpoint::for_trial(DEFAULT_ORIGIN, TRIAL, u64::MAX, [0; 32]),
        &log.key,
        DEFAULT_ORIGIN
    )
    .unwrap());
    fails(&log, &r, "inclusion: inclusion proof has 1 hashes, but leaf 18446744073709551614 of a tree of size 18446744073709551615 needs");

    // Many proof hashes.
    let mut r = log.receipt(5);
    r["proof"] = json!(vec![encode_hash(&[0; 32]); 10_000]);
    fails(&log, &r, "inclusion: inclusion proof has 10000 hashes");

    // Control characters in a field end up escaped in the one-line message.
    let mut r = log.receipt(5);
    r["subject_id"] = json!("X\u{1b}[2J\nY\u{202e}");
    let m = fails(
        &log,
        &r,
        r#"but the receipt is for subject "X\u{1b}[2J\u{a}Y\u{202e}""#,
    );
    assert!(!m.contains('\u{1b}'));

    // A control character in the note.
    let mut r = log.receipt(5);
    r["checkpoint"] = json!(format!("\u{7}{}", r["checkpoint"].as_str().unwrap()));
    fails(&log, &r, "checkpoint: note contains a control character");
}

#[test]
fn unreadable_file_or_bad_key_is_reported() {
    let log = Log::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.json");
    let o = run_on_path(&missing, &["--public-key", &log.public_key()]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = text(&o.stderr);
    assert!(
        stderr.starts_with(&format!("trialgate: receipt {}: ", missing.display())),
        "{stderr}"
    );

    let o = run_on_path(dir.path(), &["--public-key", &log.public_key()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).starts_with("trialgate: receipt "));

    for bad in ["", "abc", &BASE64.encode([1u8; 31])] {
        let (o, _) = run_on_bytes(
            log.receipt(5).to_string().as_bytes(),
            &["--public-key", bad],
        );
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(
            text(&o.stderr),
            "trialgate: --public-key: not standard base64 of a 32-byte Ed25519 public key\n"
        );
    }

    // checkpoint.pub holds the key with a trailing newline.
    let key = format!("{}\n", log.public_key());
    let (o, _) = run_on_bytes(
        log.receipt(5).to_string().as_bytes(),
        &["--public-key", &key],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}
