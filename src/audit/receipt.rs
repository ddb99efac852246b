//! Receipts: the proof, checkable offline, that one randomization is in a trial's audit log.
//!
//! A [`Receipt`] carries the `subject.randomized` entry's nonce and exact record text, an
//! inclusion proof for it in the tree that ends at that entry (`tree_size == seq`), and the
//! C2SP signed note of that tree's checkpoint. [`verify`] checks, in this order:
//!
//! 1. the note's signature by (`key_name`, public key), and that its origin line is
//!    `{key_name}/{trial}`;
//! 2. the note's tree size is the receipt's `tree_size`, and `tree_size == seq`;
//! 3. SHA-256(0x00 ‖ nonce ‖ record) is leaf `seq - 1` of that tree, by the proof, against the
//!    note's root;
//! 4. the record — now known to be what was logged — is a `subject.randomized` entry of the
//!    note's trial with the receipt's `seq` and `subject_id`.
//!
//! Receipts are hostile input: every field is checked, nothing panics, and untrusted text in
//! error messages is cut short and escaped.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::merkle::{decode_proof, leaf_hash, verify_inclusion, MerkleError, Nonce};
use super::note::{self, NoteError, SignedCheckpoint};
use super::rows::SUBJECT_RANDOMIZED;

/// Receipts larger than this are refused before parsing (a real one is a few KiB).
pub const MAX_RECEIPT_BYTES: usize = 1 << 20;

/// What `GET /api/v1/trials/{trial}/subjects/{subject_id}/receipt` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub subject_id: String,
    /// Seq of the subject's `subject.randomized` entry (its leaf index is `seq - 1`).
    pub seq: u64,
    /// Standard base64 of the entry's 32-byte nonce.
    pub nonce: String,
    /// The entry's record JSON text, byte for byte as hashed.
    pub record: String,
    /// Size of the tree the proof and checkpoint are for; always `seq`.
    pub tree_size: u64,
    /// Inclusion proof: standard base64 of 32-byte hashes, leaf to root (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
    /// The checkpoint of the tree of `tree_size` entries as a C2SP signed note.
    pub checkpoint: String,
}

/// What a valid receipt proves, read from its record and checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub trial: String,
    pub subject_id: String,
    pub seq: u64,
    pub tree_size: u64,
    pub arm: String,
    pub site: String,
    /// `at` of the record: when the subject was randomized.
    pub at: String,
    /// Signed-note key id of the key that signed the checkpoint.
    pub key_id: [u8; 4],
    pub checkpoint: SignedCheckpoint,
}

/// Why a receipt is not valid; each variant names the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the file is larger than {MAX_RECEIPT_BYTES} bytes")]
    TooLarge,
    #[error("the file is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("not a receipt: {0}")]
    Malformed(String),
    #[error("seq 0 names no entry (seq starts at 1)")]
    ZeroSeq,
    #[error("nonce is not standard base64 of 32 bytes")]
    BadNonce,
    #[error("proof: {0}")]
    BadProof(MerkleError),
    #[error("checkpoint: {0}")]
    Checkpoint(NoteError),
    #[error("checkpoint origin \"{origin}\" is not {key_name}/<trial>")]
    OriginPrefix { origin: String, key_name: String },
    #[error(
        "checkpoint is for a tree of {note} entries, but the receipt says tree_size {receipt}"
    )]
    SizeMismatch { note: u64, receipt: u64 },
    #[error("tree_size {tree_size} is not seq {seq}: a receipt must prove its entry in the tree that ends at that entry")]
    NotAtOwnEntry { seq: u64, tree_size: u64 },
    #[error("inclusion: {0}")]
    Inclusion(MerkleError),
    #[error("record is not a JSON object: {0}")]
    RecordNotJson(String),
    #[error("record has no \"{field}\" {kind}")]
    RecordField {
        field: &'static str,
        kind: &'static str,
    },
    #[error("record is a \"{found}\" entry, not {SUBJECT_RANDOMIZED}")]
    WrongAction { found: String },
    #[error("record has seq {record}, but the receipt says seq {receipt}")]
    SeqMismatch { record: String, receipt: u64 },
    #[error(
        "record belongs to trial \"{record}\", but the checkpoint is for trial \"{checkpoint}\""
    )]
    TrialMismatch { record: String, checkpoint: String },
    #[error(
        "record randomized subject \"{record}\", but the receipt is for subject \"{receipt}\""
    )]
    SubjectMismatch { record: String, receipt: String },
}

impl Receipt {
    /// Parses a receipt file's bytes: at most [`MAX_RECEIPT_BYTES`], UTF-8, JSON with exactly
    /// the receipt's fields.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ReceiptError> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|e| ReceiptError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        if text.trim().is_empty() {
            return Err(ReceiptError::Malformed("the file is empty".into()));
        }
        // serde would also take the fields as a JSON array, in order; a receipt is an object.
        if !text.trim_start().starts_with('{') {
            return Err(ReceiptError::Malformed("a receipt is a JSON object".into()));
        }
        serde_json::from_str(text).map_err(|e| ReceiptError::Malformed(printable(&e.to_string())))
    }
}

/// Decodes a checkpoint public key as `checkpoint.pub` holds it: standard base64 of the
/// 32-byte Ed25519 key (surrounding whitespace ignored). `None` when it is not one.
pub fn decode_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = BASE64.decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Checks a receipt against the pinned checkpoint key (`key_name` is also the origin prefix,
/// [`note::DEFAULT_ORIGIN`] unless the server runs with another `--log-origin`).
pub fn verify(
    receipt: &Receipt,
    key_name: &str,
    key: &VerifyingKey,
) -> Result<Verified, ReceiptError> {
    if receipt.seq == 0 {
        return Err(ReceiptError::ZeroSeq);
    }
    let nonce: Nonce = BASE64
        .decode(&receipt.nonce)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(ReceiptError::BadNonce)?;
    let proof = decode_proof(&receipt.proof).map_err(ReceiptError::BadProof)?;

    // 1. The signature, then the origin's shape.
    let checkpoint = note::parse_and_verify(&receipt.checkpoint, key_name, key)
        .map_err(ReceiptError::Checkpoint)?;
    let Some(note_trial) = checkpoint.trial(key_name).map(str::to_owned) else {
        return Err(ReceiptError::OriginPrefix {
            origin: printable(&checkpoint.origin),
            key_name: printable(key_name),
        });
    };

    // 2. Sizes.
    if checkpoint.size != receipt.tree_size {
        return Err(ReceiptError::SizeMismatch {
            note: checkpoint.size,
            receipt: receipt.tree_size,
        });
    }
    if receipt.tree_size != receipt.seq {
        return Err(ReceiptError::NotAtOwnEntry {
            seq: receipt.seq,
            tree_size: receipt.tree_size,
        });
    }

    // 3. Inclusion of exactly these bytes at leaf seq - 1.
    verify_inclusion(
        &leaf_hash(&nonce, receipt.record.as_bytes()),
        receipt.seq - 1,
        receipt.tree_size,
        &proof,
        &checkpoint.root,
    )
    .map_err(ReceiptError::Inclusion)?;

    // 4. What the logged record says.
    let record: Value = serde_json::from_str(&receipt.record)
        .map_err(|e| ReceiptError::RecordNotJson(printable(&e.to_string())))?;
    let Value::Object(record) = record else {
        return Err(ReceiptError::RecordNotJson("it is not an object".into()));
    };
    let text = |object: &serde_json::Map<String, Value>, field: &'static str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ReceiptError::RecordField {
                field,
                kind: "string",
            })
    };
    let action = text(&record, "action")?;
    if action != SUBJECT_RANDOMIZED {
        return Err(ReceiptError::WrongAction {
            found: printable(&action),
        });
    }
    let record_seq = record.get("seq").ok_or(ReceiptError::RecordField {
        field: "seq",
        kind: "number",
    })?;
    if record_seq.as_u64() != Some(receipt.seq) {
        return Err(ReceiptError::SeqMismatch {
            record: printable(&record_seq.to_string()),
            receipt: receipt.seq,
        });
    }
    let trial = text(&record, "trial")?;
    if trial != note_trial {
        return Err(ReceiptError::TrialMismatch {
            record: printable(&trial),
            checkpoint: printable(&note_trial),
        });
    }
    let at = text(&record, "at")?;
    let Some(Value::Object(data)) = record.get("data") else {
        return Err(ReceiptError::RecordField {
            field: "data",
            kind: "object",
        });
    };
    let subject_id = text(data, "subject_id")?;
    if subject_id != receipt.subject_id {
        return Err(ReceiptError::SubjectMismatch {
            record: printable(&subject_id),
            receipt: printable(&receipt.subject_id),
        });
    }
    Ok(Verified {
        trial,
        subject_id,
        seq: receipt.seq,
        tree_size: receipt.tree_size,
        arm: text(data, "arm")?,
        site: text(data, "site")?,
        at,
        key_id: note::key_id(key_name, key),
        checkpoint,
    })
}

/// Untrusted text made safe to print: at most 200 characters (then `…`), with control
/// characters and invisible or reordering ones written as `\u{…}` escapes.
pub fn printable(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == 200 {
            out.push('…');
            break;
        }
        if c.is_control() || crate::text::is_invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}
