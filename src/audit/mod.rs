//! The tamper-evident audit chain of `api.md` ("Audit trail"), as pure functions: no SQL, no I/O.
//!
//! One chain per trial (named by the trial id) plus the [`SYSTEM_CHAIN`]. Every entry stores
//! `record`, the JSON text of `{"seq","at","actor","role","action","trial","data"}` (keys in
//! exactly that order), and `hash` = lowercase hex SHA-256 of (`prev_hash` as 64 ASCII hex
//! characters ‖ `record` bytes). The first entry's `prev_hash` is [`GENESIS_HASH`]; `seq` starts
//! at 1 and has no gaps.
//!
//! * [`next_entry`] builds the entry that follows a chain head (what `storage::append_audit`
//!   inserts).
//! * [`ChainVerifier`] / [`verify`] check stored entries in `seq` order, one pass, constant
//!   memory.
//! * [`merkle`]: each chain as an RFC 6962 Merkle tree (receipts: inclusion and consistency
//!   proofs); [`note`]: its checkpoints as C2SP signed notes; [`receipt`]: one randomization
//!   proven offline by its entry, an inclusion proof and a signed checkpoint.

mod action;
pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod rows;
pub mod signature;
mod verify;

use chrono::{NaiveDateTime, Timelike};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use action::Action;
pub use verify::{verify, AsStoredEntry, ChainVerifier, Defect, StoredEntry, Verification};

/// `prev_hash` of the first entry of every chain, and the head hash of an empty chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain of events that belong to no trial (`user.created`, `user.revoked`, …).
pub const SYSTEM_CHAIN: &str = "_system";

/// `strftime` format of `at` in a record: RFC 3339, UTC, microseconds.
pub const AT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit record could not be serialised: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("audit chain sequence overflow")]
    SeqOverflow,
}

/// One chain entry as stored: the columns of an `audit_entries` row minus the chain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    /// UTC, truncated to microseconds (what both databases keep).
    pub at: NaiveDateTime,
    pub actor: String,
    pub role: String,
    pub action: String,
    /// The JSON text that was hashed, byte for byte.
    pub record: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The record's fields in the order the contract fixes (serde serialises in field order).
#[derive(Serialize)]
struct Record<'a> {
    seq: i64,
    at: &'a str,
    actor: &'a str,
    role: &'a str,
    action: &'a str,
    trial: &'a str,
    data: &'a serde_json::Value,
}

/// Drops everything below the microsecond (and folds a leap second into the last microsecond
/// of its minute), so the value survives a round trip through either database unchanged.
pub fn truncate_to_micros(at: NaiveDateTime) -> NaiveDateTime {
    let nanos = at.nanosecond().min(999_999_999);
    at.with_nanosecond(nanos / 1_000 * 1_000).unwrap_or(at)
}

/// `at` as written in records: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_at(at: NaiveDateTime) -> String {
    let mut buf = [0u8; AT_LEN];
    if write_at_fast(&at, &mut buf) {
        buf.iter().map(|&b| char::from(b)).collect()
    } else {
        at.format(AT_FORMAT).to_string()
    }
}

/// The record text of an entry (keys in contract order; `trial` is the chain name).
pub fn record_text(
    seq: i64,
    at: NaiveDateTime,
    actor: &str,
    role: &str,
    action: &str,
    chain: &str,
    data: &serde_json::Value,
) -> Result<String, AuditError> {
    let at = format_at(at);
    let record = Record {
        seq,
        at: &at,
        actor,
        role,
        action,
        trial: chain,
        data,
    };
    Ok(serde_json::to_string(&record)?)
}

/// Lowercase hex SHA-256 of (`prev_hash` ‖ `record`).
pub fn entry_hash(prev_hash: &str, record: &str) -> String {
    let mut out = [0u8; 64];
    hash_hex_into(prev_hash.as_bytes(), record.as_bytes(), &mut out);
    out.iter().map(|&b| char::from(b)).collect()
}

/// The entry that follows a chain whose head is (`head_seq`, `head_hash`); `(0, GENESIS_HASH)`
/// for an empty chain. `at` is truncated to microseconds.
#[allow(clippy::too_many_arguments)]
pub fn next_entry(
    head_seq: i64,
    head_hash: &str,
    at: NaiveDateTime,
    actor: &str,
    role: &str,
    action: &str,
    chain: &str,
    data: &serde_json::Value,
) -> Result<Entry, AuditError> {
    let seq = head_seq.checked_add(1).ok_or(AuditError::SeqOverflow)?;
    let at = truncate_to_micros(at);
    let record = record_text(seq, at, actor, role, action, chain, data)?;
    let hash = entry_hash(head_hash, &record);
    Ok(Entry {
        seq,
        at,
        actor: actor.to_owned(),
        role: role.to_owned(),
        action: action.to_owned(),
        record,
        prev_hash: head_hash.to_owned(),
        hash,
    })
}

const AT_LEN: usize = 27;

/// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` without going through `strftime`; false when the value
/// needs chrono's general path (years outside 0..=9999, leap seconds).
fn write_at_fast(at: &NaiveDateTime, out: &mut [u8; AT_LEN]) -> bool {
    use chrono::Datelike;
    let year = at.year();
    let nanos = at.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return false;
    }
    fn put(out: &mut [u8], mut value: u32, width: usize) {
        for slot in out[..width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    put(&mut out[0..], year as u32, 4);
    out[4] = b'-';
    put(&mut out[5..], at.month(), 2);
    out[7] = b'-';
    put(&mut out[8..], at.day(), 2);
    out[10] = b'T';
    put(&mut out[11..], at.hour(), 2);
    out[13] = b':';
    put(&mut out[14..], at.minute(), 2);
    out[16] = b':';
    put(&mut out[17..], at.second(), 2);
    out[19] = b'.';
    put(&mut out[20..], nanos / 1_000, 6);
    out[26] = b'Z';
    true
}

fn hash_hex_into(prev_hash: &[u8], record: &[u8], out: &mut [u8; 64]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::new()
        .chain_update(prev_hash)
        .chain_update(record)
        .finalize();
    for (i, byte) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn at(micros: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_micro_opt(8, 30, 0, micros)
            .unwrap()
    }

    #[test]
    fn record_has_contract_key_order_and_format() {
        let record = record_text(
            1,
            at(1234),
            "alice",
            "admin",
            "trial.initialized",
            "NCT06987370",
            &json!({"seed_commitment": "ab"}),
        )
        .unwrap();
        assert_eq!(
            record,
            r#"{"seq":1,"at":"2026-11-20T08:30:00.001234Z","actor":"alice","role":"admin","action":"trial.initialized","trial":"NCT06987370","data":{"seed_commitment":"ab"}}"#
        );
    }

    #[test]
    fn hash_is_sha256_of_prev_hash_then_record() {
        // Expected values from Python's hashlib.
        assert_eq!(
            entry_hash(GENESIS_HASH, "{}"),
            "5508d2b710e64bc470079e1b211d9c58e21011e59d0559e422345dc19d659a75"
        );
        assert_eq!(
            entry_hash("", "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn next_entry_links_to_head() {
        let first = next_entry(
            0,
            GENESIS_HASH,
            at(5),
            "bob",
            "pharmacist",
            "x",
            "T",
            &json!(null),
        )
        .unwrap();
        assert_eq!(first.seq, 1);
        assert_eq!(first.prev_hash, GENESIS_HASH);
        assert_eq!(first.hash, entry_hash(GENESIS_HASH, &first.record));
        let second = next_entry(
            1,
            &first.hash,
            at(6),
            "bob",
            "pharmacist",
            "y",
            "T",
            &json!([]),
        )
        .unwrap();
        assert_eq!(second.seq, 2);
        assert_eq!(second.prev_hash, first.hash);
        assert!(second.record.starts_with(r#"{"seq":2,"#));
    }

    #[test]
    fn at_is_truncated_to_micros_and_fast_format_matches_chrono() {
        let t = NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_nano_opt(3, 4, 5, 123_456_789)
            .unwrap();
        let truncated = truncate_to_micros(t);
        assert_eq!(truncated.nanosecond(), 123_456_000);
        assert_eq!(format_at(truncated), "2026-01-02T03:04:05.123456Z");
        assert_eq!(format_at(t), "2026-01-02T03:04:05.123456Z");
        for t in [
            NaiveDate::from_ymd_opt(1, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31)
                .unwrap()
                .and_hms_micro_opt(23, 59, 59, 999_999)
                .unwrap(),
            at(0),
            at(999_999),
        ] {
            assert_eq!(format_at(t), t.format(AT_FORMAT).to_string());
        }
        let far = NaiveDate::from_ymd_opt(12345, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(format_at(far), far.format(AT_FORMAT).to_string());
    }
}
