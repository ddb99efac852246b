//! One-pass verification of a stored chain.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDateTime;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{hash_hex_into, write_at_fast, AT_FORMAT, AT_LEN, GENESIS_HASH};

/// A stored entry as the verifier sees it: the `audit_entries` columns, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEntry<'a> {
    pub seq: i64,
    pub at: NaiveDateTime,
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub record: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// Anything that can be viewed as a [`StoredEntry`] (row structs, [`super::Entry`], references).
pub trait AsStoredEntry {
    fn as_stored(&self) -> StoredEntry<'_>;
}

impl AsStoredEntry for StoredEntry<'_> {
    fn as_stored(&self) -> StoredEntry<'_> {
        *self
    }
}

impl AsStoredEntry for super::Entry {
    fn as_stored(&self) -> StoredEntry<'_> {
        StoredEntry {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            role: &self.role,
            action: &self.action,
            record: &self.record,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

impl<T: AsStoredEntry + ?Sized> AsStoredEntry for &T {
    fn as_stored(&self) -> StoredEntry<'_> {
        (**self).as_stored()
    }
}

/// Why a chain is invalid (the first defect found, at `first_invalid_seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Defect {
    /// The entry with the next expected `seq` is missing or out of place (deleted, reordered or
    /// inserted rows).
    SeqGap,
    /// `prev_hash` is not the hash of the preceding entry.
    PrevHashMismatch,
    /// `hash` is not SHA-256(`prev_hash` ‖ `record`).
    HashMismatch,
    /// `record` is not a JSON object with exactly the keys seq, at, actor, role, action, trial,
    /// data in that order.
    MalformedRecord,
    /// The record's seq/at/actor/role/action/trial disagree with the row or the chain name.
    RecordMismatch,
    /// The expected head hash is not the hash of any entry (entries were removed or rewritten).
    ExpectedHeadNotFound,
    /// The chain's stored head (seq, hash) is not its last entry.
    HeadMismatch,
    /// A screening, subject or withdrawal row disagrees with the entry that recorded it, or
    /// one exists without the other.
    RowMismatch,
    /// The Merkle log (a leaf, its nonce, a node or the head's right edge) disagrees with the
    /// entries.
    LogMismatch,
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Defect::SeqGap => "entry missing or out of sequence",
            Defect::LogMismatch => "the Merkle log disagrees with the entries",
            Defect::PrevHashMismatch => "prev_hash does not link to the preceding entry",
            Defect::HashMismatch => "hash does not match prev_hash and record",
            Defect::MalformedRecord => "record is not a well-formed audit record",
            Defect::RecordMismatch => "record disagrees with the stored columns or chain",
            Defect::ExpectedHeadNotFound => "expected head hash is not in the chain",
            Defect::HeadMismatch => "stored chain head does not match the last entry",
            Defect::RowMismatch => "a table row disagrees with its audit entry",
        })
    }
}

/// The verdict: `{"valid","entries","head","first_invalid_seq"}` (plus `defect` when invalid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub valid: bool,
    /// Number of entries read.
    pub entries: u64,
    /// Stored hash of the last entry read ([`GENESIS_HASH`] for an empty chain).
    pub head: String,
    /// Entries with a smaller seq are intact; `None` when valid.
    pub first_invalid_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defect: Option<Defect>,
    /// What disagrees, when a table row does ([`Defect::RowMismatch`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Verification {
    /// Folds in the cross-check of the tables: the earlier of the two defects wins.
    pub fn with_rows(mut self, rows: Option<super::rows::RowDisagreement>) -> Self {
        if let Some(d) = rows {
            if self.first_invalid_seq.is_none_or(|seq| d.seq < seq) {
                self.valid = false;
                self.first_invalid_seq = Some(d.seq);
                self.defect = Some(Defect::RowMismatch);
                self.detail = Some(d.detail);
            }
        }
        self
    }

    /// Folds in the check of the Merkle log, as [`with_rows`](Self::with_rows) does the tables.
    pub fn with_log(mut self, log: Option<super::rows::RowDisagreement>) -> Self {
        if let Some(d) = log {
            if self.first_invalid_seq.is_none_or(|seq| d.seq < seq) {
                self.valid = false;
                self.first_invalid_seq = Some(d.seq);
                self.defect = Some(Defect::LogMismatch);
                self.detail = Some(d.detail);
            }
        }
        self
    }
}

/// Streaming verifier: [`push`](Self::push) entries in `seq` order, then [`finish`](Self::finish).
///
/// Per entry: one SHA-256, one JSON parse (borrowing, `data` skipped), no allocation unless the
/// record's strings contain escapes. After the first defect, entries are only counted.
#[derive(Debug)]
pub struct ChainVerifier {
    chain: String,
    next_seq: i64,
    prev_hash: [u8; 64],
    entries: u64,
    head: String,
    failure: Option<(i64, Defect)>,
    expected_head: Option<String>,
    expected_head_found: bool,
    stored_head: Option<(i64, String)>,
    hash_buf: [u8; 64],
    at_buf: [u8; AT_LEN],
    at_slow: String,
}

impl ChainVerifier {
    pub fn new(chain: &str) -> Self {
        let mut prev_hash = [0u8; 64];
        prev_hash.copy_from_slice(GENESIS_HASH.as_bytes());
        ChainVerifier {
            chain: chain.to_owned(),
            next_seq: 1,
            prev_hash,
            entries: 0,
            head: GENESIS_HASH.to_owned(),
            failure: None,
            expected_head: None,
            expected_head_found: false,
            stored_head: None,
            hash_buf: [0u8; 64],
            at_buf: [0u8; AT_LEN],
            at_slow: String::new(),
        }
    }

    /// A head hash recorded earlier (e.g. from a checkpoint) that must be the hash of some entry
    /// of the chain; later entries may follow it. Detects removed trailing entries. If it is not
    /// found, `first_invalid_seq` is the seq after the last entry.
    pub fn expect_head(mut self, hash: &str) -> Self {
        self.expected_head = Some(hash.to_ascii_lowercase());
        self
    }

    /// The chain's own head record (`audit_heads` row): the last entry must be exactly this.
    pub fn expect_last(mut self, seq: i64, hash: &str) -> Self {
        self.stored_head = Some((seq, hash.to_owned()));
        self
    }

    /// Checks the next entry (entries must come in ascending `seq` order).
    pub fn push(&mut self, entry: &StoredEntry<'_>) {
        self.entries += 1;
        self.head.clear();
        self.head.push_str(entry.hash);
        if self.failure.is_some() {
            return;
        }
        if let Err(defect) = self.check(entry) {
            let seq = if defect == Defect::SeqGap {
                self.next_seq
            } else {
                entry.seq
            };
            self.failure = Some((seq, defect));
            return;
        }
        self.prev_hash.copy_from_slice(self.hash_buf.as_slice());
        if !self.expected_head_found {
            if let Some(expected) = &self.expected_head {
                self.expected_head_found = expected.as_bytes() == entry.hash.as_bytes();
            }
        }
        self.next_seq += 1;
    }

    fn check(&mut self, e: &StoredEntry<'_>) -> Result<(), Defect> {
        if e.seq != self.next_seq {
            return Err(Defect::SeqGap);
        }
        if e.prev_hash.as_bytes() != self.prev_hash.as_slice() {
            return Err(Defect::PrevHashMismatch);
        }
        hash_hex_into(
            e.prev_hash.as_bytes(),
            e.record.as_bytes(),
            &mut self.hash_buf,
        );
        if e.hash.as_bytes() != self.hash_buf.as_slice() {
            return Err(Defect::HashMismatch);
        }
        let record: ParsedRecord<'_> =
            serde_json::from_str(e.record).map_err(|_| Defect::MalformedRecord)?;
        let at_text: &[u8] = if write_at_fast(&e.at, &mut self.at_buf) {
            &self.at_buf
        } else {
            use std::fmt::Write;
            self.at_slow.clear();
            // Writing into a String cannot fail.
            let _ = write!(self.at_slow, "{}", e.at.format(AT_FORMAT));
            self.at_slow.as_bytes()
        };
        let consistent = record.seq == e.seq
            && record.at.as_bytes() == at_text
            && record.actor == e.actor
            && record.role == e.role
            && record.action == e.action
            && record.trial == self.chain;
        if consistent {
            Ok(())
        } else {
            Err(Defect::RecordMismatch)
        }
    }

    pub fn finish(self) -> Verification {
        let last_seq = self.next_seq - 1;
        let mut failure = self.failure;
        if failure.is_none() {
            if let Some(expected) = &self.expected_head {
                if expected != GENESIS_HASH && !self.expected_head_found {
                    failure = Some((self.next_seq, Defect::ExpectedHeadNotFound));
                }
            }
            if let Some((seq, hash)) = &self.stored_head {
                let head_failure = if last_seq < *seq {
                    Some((last_seq + 1, Defect::HeadMismatch))
                } else if last_seq > *seq {
                    Some((seq + 1, Defect::HeadMismatch))
                } else if hash.as_bytes() != self.prev_hash.as_slice() {
                    Some((*seq, Defect::HeadMismatch))
                } else {
                    None
                };
                failure = match (failure, head_failure) {
                    (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
                    (a, b) => a.or(b),
                };
            }
        }
        Verification {
            valid: failure.is_none(),
            entries: self.entries,
            head: self.head,
            first_invalid_seq: failure.map(|(seq, _)| seq),
            defect: failure.map(|(_, defect)| defect),
            detail: None,
        }
    }
}

/// Verifies a whole chain given in `seq` order. `expected_head`: see
/// [`ChainVerifier::expect_head`].
pub fn verify<I>(chain: &str, entries: I, expected_head: Option<&str>) -> Verification
where
    I: IntoIterator,
    I::Item: AsStoredEntry,
{
    let mut verifier = ChainVerifier::new(chain);
    if let Some(hash) = expected_head {
        verifier = verifier.expect_head(hash);
    }
    for entry in entries {
        verifier.push(&entry.as_stored());
    }
    verifier.finish()
}

/// The fields of a record, borrowed from its text where possible. Deserialisation insists on
/// the contract's key order and on no other keys.
struct ParsedRecord<'a> {
    seq: i64,
    at: Cow<'a, str>,
    actor: Cow<'a, str>,
    role: Cow<'a, str>,
    action: Cow<'a, str>,
    trial: Cow<'a, str>,
}

struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

impl<'de> Deserialize<'de> for ParsedRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecordVisitor;

        fn key<'de, A: MapAccess<'de>>(map: &mut A, name: &'static str) -> Result<(), A::Error> {
            match map.next_key::<Str<'de>>()? {
                Some(Str(k)) if k == name => Ok(()),
                Some(Str(k)) => Err(de::Error::custom(format_args!(
                    "expected key `{name}`, found `{k}`"
                ))),
                None => Err(de::Error::missing_field(name)),
            }
        }

        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = ParsedRecord<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an audit record object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                key(&mut map, "seq")?;
                let seq: i64 = map.next_value()?;
                key(&mut map, "at")?;
                let at: Str<'de> = map.next_value()?;
                key(&mut map, "actor")?;
                let actor: Str<'de> = map.next_value()?;
                key(&mut map, "role")?;
                let role: Str<'de> = map.next_value()?;
                key(&mut map, "action")?;
                let action: Str<'de> = map.next_value()?;
                key(&mut map, "trial")?;
                let trial: Str<'de> = map.next_value()?;
                key(&mut map, "data")?;
                map.next_value::<IgnoredAny>()?;
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("unexpected key after `data`"));
                }
                Ok(ParsedRecord {
                    seq,
                    at: at.0,
                    actor: actor.0,
                    role: role.0,
                    action: action.0,
                    trial: trial.0,
                })
            }
        }
        deserializer.deserialize_map(RecordVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{entry_hash, next_entry, Entry, GENESIS_HASH};
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    const CHAIN: &str = "T1";

    fn t0() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
    }

    fn chain(n: i64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for i in 0..n {
            let (seq, hash) = out
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS_HASH.to_owned()));
            let at = t0() + chrono::Duration::microseconds(i * 1_001);
            out.push(
                next_entry(
                    seq,
                    &hash,
                    at,
                    "alice",
                    "investigator",
                    "screening.recorded",
                    CHAIN,
                    &json!({"i": i, "note": "quote \" and é"}),
                )
                .unwrap(),
            );
        }
        out
    }

    /// Recomputes hashes from `from` on (what a forger who rewrites the tail would do).
    fn rehash(entries: &mut [Entry], from: usize) {
        for i in from..entries.len() {
            let prev = if i == 0 {
                GENESIS_HASH.to_owned()
            } else {
                entries[i - 1].hash.clone()
            };
            entries[i].prev_hash = prev.clone();
            entries[i].hash = entry_hash(&prev, &entries[i].record);
        }
    }

    fn invalid_at(v: &Verification) -> Option<i64> {
        assert_eq!(v.valid, v.first_invalid_seq.is_none());
        v.first_invalid_seq
    }

    #[test]
    fn intact_chain_is_valid() {
        let entries = chain(20);
        let v = verify(CHAIN, &entries, None);
        assert!(v.valid, "{v:?}");
        assert_eq!(v.entries, 20);
        assert_eq!(v.head, entries[19].hash);
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"valid": true, "entries": 20, "head": entries[19].hash, "first_invalid_seq": null})
        );
        let v = verify(CHAIN, &entries, Some(&entries[19].hash));
        assert!(v.valid);
        // An earlier head is a prefix of the chain: still valid.
        assert!(verify(CHAIN, &entries, Some(&entries[4].hash.to_uppercase())).valid);
        assert!(verify(CHAIN, &entries, Some(GENESIS_HASH)).valid);
    }

    #[test]
    fn empty_chain() {
        let v = verify(CHAIN, Vec::<Entry>::new(), None);
        assert!(v.valid);
        assert_eq!(v.entries, 0);
        assert_eq!(v.head, GENESIS_HASH);
        let v = verify(CHAIN, Vec::<Entry>::new(), Some(&"1".repeat(64)));
        assert_eq!(invalid_at(&v), Some(1));
        assert_eq!(v.defect, Some(Defect::ExpectedHeadNotFound));
    }

    #[test]
    fn edited_record_is_detected() {
        let mut entries = chain(10);
        entries[4].record = entries[4].record.replace("\"i\":4", "\"i\":5");
        let v = verify(CHAIN, &entries, None);
        assert_eq!(invalid_at(&v), Some(5));
        assert_eq!(v.defect, Some(Defect::HashMismatch));
        assert_eq!(v.entries, 10);
        assert_eq!(v.head, entries[9].hash);
    }

    #[test]
    fn rehashed_edit_breaks_the_next_link_or_the_expected_head() {
        let mut entries = chain(10);
        let head = entries[9].hash.clone();
        entries[4].record = entries[4].record.replace("\"i\":4", "\"i\":5");
        entries[4].hash = entry_hash(&entries[4].prev_hash, &entries[4].record);
        let v = verify(CHAIN, &entries, None);
        assert_eq!(invalid_at(&v), Some(6));
        assert_eq!(v.defect, Some(Defect::PrevHashMismatch));
        rehash(&mut entries, 4);
        assert!(verify(CHAIN, &entries, None).valid);
        let v = verify(CHAIN, &entries, Some(&head));
        assert_eq!(invalid_at(&v), Some(11));
        assert_eq!(v.defect, Some(Defect::ExpectedHeadNotFound));
    }

    #[test]
    fn column_inconsistent_with_record_is_detected() {
        for field in ["seq_in_record", "at", "actor", "role", "action"] {
            let mut entries = chain(6);
            match field {
                "at" => entries[2].at += chrono::Duration::microseconds(1),
                "actor" => entries[2].actor = "mallory".into(),
                "role" => entries[2].role = "admin".into(),
                "action" => entries[2].action = "subject.withdrawn".into(),
                _ => {
                    entries[2].record = entries[2].record.replacen("\"seq\":3", "\"seq\":33", 1);
                    rehash(&mut entries, 2);
                }
            }
            let v = verify(CHAIN, &entries, None);
            assert_eq!(invalid_at(&v), Some(3), "{field}");
            assert_eq!(v.defect, Some(Defect::RecordMismatch), "{field}");
        }
        // The record names another chain.
        let entries = chain(3);
        let v = verify("T2", &entries, None);
        assert_eq!(invalid_at(&v), Some(1));
        assert_eq!(v.defect, Some(Defect::RecordMismatch));
    }

    #[test]
    fn malformed_records_are_detected() {
        for bad in [
            r#"{"at":"x","seq":1,"actor":"a","role":"r","action":"a","trial":"T1","data":1}"#,
            r#"{"seq":1,"at":"x","actor":"a","role":"r","action":"a","trial":"T1"}"#,
            r#"{"seq":1,"at":"x","actor":"a","role":"r","action":"a","trial":"T1","data":1,"x":2}"#,
            r#"{"seq":1,"at":"x","actor":"a","role":"r","action":"a","trial":"T1","data":1} x"#,
            r#"[1]"#,
            "",
        ] {
            let mut entries = chain(2);
            entries[0].record = bad.to_owned();
            rehash(&mut entries, 0);
            let v = verify(CHAIN, &entries, None);
            assert_eq!(invalid_at(&v), Some(1), "{bad}");
            assert_eq!(v.defect, Some(Defect::MalformedRecord), "{bad}");
        }
    }

    #[test]
    fn escaped_strings_compare_by_value() {
        let entries = vec![next_entry(
            0,
            GENESIS_HASH,
            t0(),
            "o'brien \"the\" ü",
            "monitor",
            "a\\b",
            CHAIN,
            &json!({}),
        )
        .unwrap()];
        assert!(verify(CHAIN, &entries, None).valid);
    }

    #[test]
    fn wrong_hash_and_broken_link() {
        let mut entries = chain(5);
        entries[3].hash = "f".repeat(64);
        let v = verify(CHAIN, &entries, None);
        assert_eq!(
            (invalid_at(&v), v.defect),
            (Some(4), Some(Defect::HashMismatch))
        );

        let mut entries = chain(5);
        entries[3].prev_hash = entries[1].hash.clone();
        let v = verify(CHAIN, &entries, None);
        assert_eq!(
            (invalid_at(&v), v.defect),
            (Some(4), Some(Defect::PrevHashMismatch))
        );
    }

    #[test]
    fn gaps_reorders_and_insertions_are_detected() {
        // Deleted middle entry.
        let mut entries = chain(8);
        entries.remove(4);
        let v = verify(CHAIN, &entries, None);
        assert_eq!((invalid_at(&v), v.defect), (Some(5), Some(Defect::SeqGap)));
        // Deleted first entry.
        let mut entries = chain(3);
        entries.remove(0);
        assert_eq!(invalid_at(&verify(CHAIN, &entries, None)), Some(1));
        // Swapped order.
        let mut entries = chain(8);
        entries.swap(2, 3);
        assert_eq!(invalid_at(&verify(CHAIN, &entries, None)), Some(3));
        // Swapped seq numbers (rows read in seq order).
        let mut entries = chain(8);
        entries.swap(2, 3);
        entries[2].seq = 3;
        entries[3].seq = 4;
        let v = verify(CHAIN, &entries, None);
        assert_eq!(
            (invalid_at(&v), v.defect),
            (Some(3), Some(Defect::PrevHashMismatch))
        );
        // Forged entry inserted in the middle, later seqs shifted.
        let mut entries = chain(8);
        let forged = next_entry(
            5,
            &entries[4].hash,
            t0(),
            "mallory",
            "admin",
            "subject.randomized",
            CHAIN,
            &json!({}),
        )
        .unwrap();
        entries.insert(5, forged);
        for e in entries.iter_mut().skip(6) {
            e.seq += 1;
        }
        let v = verify(CHAIN, &entries, None);
        assert_eq!(invalid_at(&v), Some(7));
        // Duplicate seq.
        let mut entries = chain(4);
        let dup = entries[1].clone();
        entries.insert(2, dup);
        assert_eq!(invalid_at(&verify(CHAIN, &entries, None)), Some(3));
    }

    #[test]
    fn deleted_tail_needs_an_expected_head() {
        let mut entries = chain(10);
        let head = entries[9].hash.clone();
        entries.truncate(7);
        assert!(verify(CHAIN, &entries, None).valid);
        let v = verify(CHAIN, &entries, Some(&head));
        assert_eq!(
            (invalid_at(&v), v.defect),
            (Some(8), Some(Defect::ExpectedHeadNotFound))
        );
        assert_eq!(v.entries, 7);
    }

    #[test]
    fn stored_head_must_be_the_last_entry() {
        let entries = chain(6);
        let run = |seq: i64, hash: &str| {
            let mut v = ChainVerifier::new(CHAIN).expect_last(seq, hash);
            for e in &entries {
                v.push(&e.as_stored());
            }
            v.finish()
        };
        assert!(run(6, &entries[5].hash).valid);
        let v = run(8, &"a".repeat(64));
        assert_eq!(
            (invalid_at(&v), v.defect),
            (Some(7), Some(Defect::HeadMismatch))
        );
        let v = run(4, &entries[3].hash);
        assert_eq!(
            (invalid_at(&v), v.defect),
            (Some(5), Some(Defect::HeadMismatch))
        );
        let v = run(6, &entries[4].hash);
        assert_eq!(
            (invalid_at(&v), v.defect),
            (Some(6), Some(Defect::HeadMismatch))
        );
    }

    #[test]
    fn first_defect_wins() {
        let mut entries = chain(10);
        entries[7].actor = "x".into();
        entries[2].hash = "0".repeat(64);
        let v = verify(CHAIN, &entries, Some(&"9".repeat(64)));
        assert_eq!(invalid_at(&v), Some(3));
        assert_eq!(v.entries, 10);
    }

    /// Run with `cargo test --release -- --ignored --nocapture audit`.
    #[test]
    #[ignore = "timing; run in release"]
    fn verifies_a_million_entries_quickly() {
        let n = 1_000_000;
        let mut entries = Vec::with_capacity(n);
        let mut head = (0i64, GENESIS_HASH.to_owned());
        for i in 0..n {
            let e = next_entry(
                head.0,
                &head.1,
                t0() + chrono::Duration::microseconds(i as i64),
                "pharmacist-01",
                "pharmacist",
                "subject.randomized",
                CHAIN,
                &json!({"subject_id": format!("S-{i:06}"), "screening_id": "0193e7c2-1c1e-7a2b-8f3d-1a2b3c4d5e6f",
                        "patient_ref": "SITE01-0007", "site": "SITE01", "arm": "SFRT_SCART", "sequence": i,
                        "stratum_key": "", "stratum_position": i, "block_index": i / 6, "block_size": 6}),
            )
            .unwrap();
            head = (e.seq, e.hash.clone());
            entries.push(e);
        }
        let start = std::time::Instant::now();
        let v = verify(CHAIN, &entries, Some(&head.1));
        let elapsed = start.elapsed();
        assert!(v.valid);
        eprintln!("verified {n} entries in {elapsed:?}");
        assert!(elapsed < std::time::Duration::from_secs(3));
    }
}
