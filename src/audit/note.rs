//! Merkle checkpoints as C2SP signed notes (<https://c2sp.org/signed-note>) whose text is a
//! C2SP checkpoint (<https://c2sp.org/tlog-checkpoint>):
//!
//! ```text
//! trialgate/NCT06987370
//! 12
//! <standard base64 of the 32-byte root>
//!
//! — trialgate <base64(key id ‖ Ed25519 signature)>
//! ```
//!
//! The signature covers the text (every line before the blank line, each with its newline).
//! The key id is the first 4 bytes of SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key). Parsing
//! follows Go's `golang.org/x/mod/sumdb/note`: signature lines of other keys are skipped, a
//! repeated line of our key is ignored after the first, and any malformed line rejects the note.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::{decode_hash, encode_hash, Hash};

/// Key name and first half of the origin line of our checkpoints.
pub const DEFAULT_ORIGIN: &str = "trialgate";

/// Signature lines start with U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Signature type byte of Ed25519 keys in signed notes.
const ALG_ED25519: u8 = 0x01;
/// Go's limit: a note with more signature lines is rejected rather than scanned.
const MAX_SIGNATURES: usize = 100;

/// The body of a checkpoint: origin line, tree size, root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The whole origin line, `{log origin}/{trial}`.
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note contains a control character other than newline at byte {offset}")]
    ControlCharacter { offset: usize },
    #[error("note has no blank line between its text and its signature lines")]
    NoSeparator,
    #[error("note has no signature lines after the blank line")]
    NoSignatures,
    #[error("note's last signature line does not end with a newline")]
    UnterminatedSignatures,
    #[error("signature line {line} does not start with an em dash (U+2014) and a space")]
    SignatureLinePrefix { line: usize },
    #[error("signature line {line} has an invalid key name (empty, or containing a space or '+')")]
    SignatureLineName { line: usize },
    #[error("signature line {line}: the signature is not standard base64 of at least 5 bytes")]
    SignatureLineBase64 { line: usize },
    #[error("note has more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
    #[error("no signature line for key {name} with key id {key_id}")]
    NoSignatureForKey { name: String, key_id: String },
    #[error("the signature by key {name} is {len} bytes, not the 64 of an Ed25519 signature")]
    SignatureLength { name: String, len: usize },
    #[error("the signature by key {name} does not verify over the note text")]
    SignatureInvalid { name: String },
    #[error("key name {0:?} is invalid: it must be non-empty, without spaces or '+'")]
    BadKeyName(String),
    #[error("note text must be non-empty, end with a newline and have no blank or control-character lines")]
    BadText,
    #[error("checkpoint origin line {0:?} is empty or contains a control character")]
    BadOriginLine(String),
    #[error("checkpoint has no tree size line")]
    MissingSize,
    #[error("checkpoint tree size {0:?} is not a decimal number (digits only, no leading zeros, below 2^64)")]
    BadSize(String),
    #[error("checkpoint has no root hash line")]
    MissingRoot,
    #[error("checkpoint root hash {0:?} is not standard base64 of 32 bytes")]
    BadRoot(String),
    #[error("checkpoint line {line} is empty")]
    EmptyLine { line: usize },
    #[error("checkpoint text does not end with a newline")]
    UnterminatedText,
}

impl SignedCheckpoint {
    /// The checkpoint of a trial's chain: origin `{log_origin}/{trial}`.
    pub fn for_trial(log_origin: &str, trial: &str, size: u64, root: Hash) -> Self {
        Self {
            origin: format!("{log_origin}/{trial}"),
            size,
            root,
        }
    }

    /// The trial named by the origin line, when it is `{log_origin}/{trial}`.
    pub fn trial(&self, log_origin: &str) -> Option<&str> {
        self.origin
            .strip_prefix(log_origin)?
            .strip_prefix('/')
            .filter(|trial| !trial.is_empty())
    }

    /// The note text: origin, size and root lines, each ending in a newline.
    pub fn body(&self) -> Result<String, NoteError> {
        if self.origin.is_empty() || self.origin.chars().any(char::is_control) {
            return Err(NoteError::BadOriginLine(excerpt(&self.origin)));
        }
        Ok(format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            encode_hash(&self.root)
        ))
    }

    /// Parses a checkpoint text. Extension lines after the root are allowed (and signed) but
    /// not kept; they must not be empty.
    pub fn parse_body(text: &str) -> Result<Self, NoteError> {
        let Some(text) = text.strip_suffix('\n') else {
            return Err(NoteError::UnterminatedText);
        };
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(NoteError::BadOriginLine(excerpt(origin)));
        }
        let size_line = lines.next().ok_or(NoteError::MissingSize)?;
        let size = parse_size(size_line).ok_or_else(|| NoteError::BadSize(excerpt(size_line)))?;
        let root_line = lines.next().ok_or(NoteError::MissingRoot)?;
        let root = decode_hash(root_line).ok_or_else(|| NoteError::BadRoot(excerpt(root_line)))?;
        for (i, extension) in lines.enumerate() {
            if extension.is_empty() {
                return Err(NoteError::EmptyLine { line: i + 4 });
            }
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

/// Key id of an Ed25519 key in signed notes: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[..4].
pub fn key_id(key_name: &str, key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(key_name.as_bytes())
        .chain_update(b"\n")
        .chain_update([ALG_ED25519])
        .chain_update(key.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key string monitors and Go tooling take: `name+hex(key id)+base64(0x01 ‖ key)`.
pub fn verifier_key(key_name: &str, key: &VerifyingKey) -> Result<String, NoteError> {
    check_key_name(key_name)?;
    let mut typed = vec![ALG_ED25519];
    typed.extend_from_slice(key.as_bytes());
    Ok(format!(
        "{key_name}+{}+{}",
        hex::encode(key_id(key_name, key)),
        BASE64.encode(typed)
    ))
}

/// Signs a checkpoint: its text, a blank line, and one signature line by `key_name`.
pub fn sign(
    checkpoint: &SignedCheckpoint,
    key: &SigningKey,
    key_name: &str,
) -> Result<String, NoteError> {
    sign_note(&checkpoint.body()?, key, key_name)
}

/// Signs any note text (non-empty, newline-terminated, no blank lines or control characters).
pub fn sign_note(text: &str, key: &SigningKey, key_name: &str) -> Result<String, NoteError> {
    check_key_name(key_name)?;
    let well_formed = text.ends_with('\n')
        && !text.starts_with('\n')
        && !text.contains("\n\n")
        && !text.chars().any(|c| c.is_control() && c != '\n');
    if !well_formed {
        return Err(NoteError::BadText);
    }
    let mut blob = key_id(key_name, &key.verifying_key()).to_vec();
    blob.extend_from_slice(&key.sign(text.as_bytes()).to_bytes());
    Ok(format!(
        "{text}\n{SIGNATURE_PREFIX}{key_name} {}\n",
        BASE64.encode(blob)
    ))
}

/// Checks a signed note for a valid signature by (`key_name`, `key`) and returns its text.
pub fn open_note<'a>(
    note: &'a str,
    key_name: &str,
    key: &VerifyingKey,
) -> Result<&'a str, NoteError> {
    check_key_name(key_name)?;
    if let Some(offset) = note.find(|c: char| (c as u32) < 0x20 && c != '\n') {
        return Err(NoteError::ControlCharacter { offset });
    }
    let split = note.rfind("\n\n").ok_or(NoteError::NoSeparator)?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    if signatures.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    let Some(signatures) = signatures.strip_suffix('\n') else {
        return Err(NoteError::UnterminatedSignatures);
    };
    let wanted_id = key_id(key_name, key);
    let mut ours: Option<Vec<u8>> = None;
    for (i, line) in signatures.split('\n').enumerate() {
        let number = i + 1;
        if number > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::SignatureLinePrefix { line: number })?;
        let (name, encoded) = rest.split_once(' ').unwrap_or((rest, ""));
        if !is_valid_key_name(name) {
            return Err(NoteError::SignatureLineName { line: number });
        }
        let blob = BASE64
            .decode(encoded)
            .ok()
            .filter(|b| b.len() >= 5)
            .ok_or(NoteError::SignatureLineBase64 { line: number })?;
        if ours.is_none() && name == key_name && blob.get(..4) == Some(&wanted_id[..]) {
            ours = Some(blob);
        }
    }
    let name = key_name.to_string();
    let blob = ours.ok_or_else(|| NoteError::NoSignatureForKey {
        name: name.clone(),
        key_id: hex::encode(wanted_id),
    })?;
    let signature = blob.get(4..).unwrap_or_default();
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| NoteError::SignatureLength {
            name: name.clone(),
            len: signature.len(),
        })?;
    key.verify(text.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| NoteError::SignatureInvalid { name })?;
    Ok(text)
}

/// Verifies a signed checkpoint note by (`key_name`, `key`) and parses its text.
pub fn parse_and_verify(
    note: &str,
    key_name: &str,
    key: &VerifyingKey,
) -> Result<SignedCheckpoint, NoteError> {
    SignedCheckpoint::parse_body(open_note(note, key_name, key)?)
}

fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::BadKeyName(excerpt(name)))
    }
}

/// Canonical decimal: digits only, no leading zero unless the value is 0.
fn parse_size(line: &str) -> Option<u64> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    if canonical {
        line.parse().ok()
    } else {
        None
    }
}

/// At most 64 characters of untrusted input, for error messages.
fn excerpt(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn checkpoint() -> SignedCheckpoint {
        SignedCheckpoint::for_trial(DEFAULT_ORIGIN, "NCT06987370", 12, [0xab; 32])
    }

    fn public() -> VerifyingKey {
        key().verifying_key()
    }

    #[test]
    fn reproduces_the_go_sumdb_note_example_byte_for_byte() {
        // golang.org/x/mod, sumdb/note/note.go, package documentation ("Here is a well-formed
        // signed note"): skey PRIVATE+KEY+PeterNeumann+c74f20a3+AYEK…, vkey
        // PeterNeumann+c74f20a3+ARpc…. Ed25519 is deterministic, so signing must match.
        let seed = BASE64
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        assert_eq!(seed[0], ALG_ED25519);
        let key = SigningKey::from_bytes(&seed[1..].try_into().unwrap());
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        assert_eq!(
            verifier_key("PeterNeumann", &key.verifying_key()).unwrap(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        assert_eq!(sign_note(text, &key, "PeterNeumann").unwrap(), note);
        assert_eq!(
            open_note(note, "PeterNeumann", &key.verifying_key()).unwrap(),
            text
        );
    }

    #[test]
    fn signs_and_parses_a_checkpoint() {
        let note = sign(&checkpoint(), &key(), DEFAULT_ORIGIN).unwrap();
        let (body, signature) = note.split_once("\n\n").unwrap();
        assert_eq!(
            body,
            format!("trialgate/NCT06987370\n12\n{}", BASE64.encode([0xab; 32]))
        );
        assert!(signature.starts_with("\u{2014} trialgate "));
        assert!(signature.ends_with('\n'));
        let blob = BASE64
            .decode(signature.trim_end().rsplit(' ').next().unwrap())
            .unwrap();
        assert_eq!(blob.len(), 68);
        assert_eq!(blob[..4], key_id(DEFAULT_ORIGIN, &public()));
        let parsed = parse_and_verify(&note, DEFAULT_ORIGIN, &public()).unwrap();
        assert_eq!(parsed, checkpoint());
        assert_eq!(parsed.trial(DEFAULT_ORIGIN), Some("NCT06987370"));
        assert_eq!(parsed.trial("other"), None);
    }

    #[test]
    fn finds_our_signature_among_unknown_ones() {
        let note = sign(&checkpoint(), &key(), DEFAULT_ORIGIN).unwrap();
        let other = SigningKey::from_bytes(&[9; 32]);
        let witness = sign(&checkpoint(), &other, "witness.example/w1").unwrap();
        let witness_line = witness.split("\n\n").nth(1).unwrap();
        // Same name, other key: a different key id, so skipped too.
        let impostor = sign(&checkpoint(), &other, DEFAULT_ORIGIN).unwrap();
        let impostor_line = impostor.split("\n\n").nth(1).unwrap();
        let (body, ours) = note.split_once("\n\n").unwrap();
        let combined = format!("{body}\n\n{witness_line}{impostor_line}{ours}");
        assert_eq!(
            parse_and_verify(&combined, DEFAULT_ORIGIN, &public()).unwrap(),
            checkpoint()
        );
        // Without ours, the note is refused by name and key id.
        let foreign = format!("{body}\n\n{witness_line}{impostor_line}");
        let err = parse_and_verify(&foreign, DEFAULT_ORIGIN, &public()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no signature line for key trialgate with key id {}",
                hex::encode(key_id(DEFAULT_ORIGIN, &public()))
            )
        );
    }

    #[test]
    fn tampering_with_the_note_fails_naming_what_failed() {
        let note = sign(&checkpoint(), &key(), DEFAULT_ORIGIN).unwrap();
        let invalid = NoteError::SignatureInvalid {
            name: "trialgate".into(),
        };
        // A flipped bit in the root (still valid base64 of 32 bytes): the signature fails.
        let root_b64 = BASE64.encode([0xab; 32]);
        let mut flipped = [0xab; 32];
        flipped[31] ^= 0x01;
        let flipped_root = BASE64.encode(flipped);
        let tampered = note.replace(&root_b64, &flipped_root);
        assert_ne!(tampered, note);
        let err = parse_and_verify(&tampered, DEFAULT_ORIGIN, &public()).unwrap_err();
        assert_eq!(err, invalid);
        assert_eq!(
            err.to_string(),
            "the signature by key trialgate does not verify over the note text"
        );
        // Size and origin are signed too.
        let tampered = note.replace("\n12\n", "\n13\n");
        assert_eq!(
            parse_and_verify(&tampered, DEFAULT_ORIGIN, &public()),
            Err(invalid.clone())
        );
        let tampered = note.replace("NCT06987370", "NCT06987371");
        assert_eq!(
            parse_and_verify(&tampered, DEFAULT_ORIGIN, &public()),
            Err(invalid.clone())
        );
        // A flipped bit in the signature itself.
        let line = note.split("\n\n").nth(1).unwrap().trim_end();
        let encoded = line.rsplit(' ').next().unwrap();
        let mut blob = BASE64.decode(encoded).unwrap();
        blob[40] ^= 0x01;
        let tampered = note.replace(encoded, &BASE64.encode(&blob));
        assert_eq!(
            parse_and_verify(&tampered, DEFAULT_ORIGIN, &public()),
            Err(invalid.clone())
        );
        // A flipped bit in the key id: no longer our line.
        let mut blob = BASE64.decode(encoded).unwrap();
        blob[0] ^= 0x01;
        let tampered = note.replace(encoded, &BASE64.encode(&blob));
        assert!(matches!(
            parse_and_verify(&tampered, DEFAULT_ORIGIN, &public()),
            Err(NoteError::NoSignatureForKey { .. })
        ));
        // A truncated signature.
        let short = BASE64.encode(&BASE64.decode(encoded).unwrap()[..60]);
        let tampered = note.replace(encoded, &short);
        assert_eq!(
            parse_and_verify(&tampered, DEFAULT_ORIGIN, &public()),
            Err(NoteError::SignatureLength {
                name: "trialgate".into(),
                len: 56
            })
        );
        // The wrong public key.
        let err = parse_and_verify(
            &note,
            DEFAULT_ORIGIN,
            &SigningKey::from_bytes(&[8; 32]).verifying_key(),
        )
        .unwrap_err();
        assert!(matches!(err, NoteError::NoSignatureForKey { .. }), "{err}");
    }

    /// Signs `text` as it stands (bypassing `sign`'s checks), so the body parser is reached.
    fn signed_raw(text: &str) -> String {
        let mut blob = key_id(DEFAULT_ORIGIN, &public()).to_vec();
        blob.extend_from_slice(&key().sign(text.as_bytes()).to_bytes());
        format!("{text}\n— trialgate {}\n", BASE64.encode(blob))
    }

    #[test]
    fn malformed_notes_are_rejected_with_a_clear_message() {
        let good = sign(&checkpoint(), &key(), DEFAULT_ORIGIN).unwrap();
        let root = BASE64.encode([0xab; 32]);
        let body_cases: Vec<(String, NoteError)> = vec![
            (
                format!("\n12\n{root}\n"),
                NoteError::BadOriginLine(String::new()),
            ),
            ("trialgate/T\n".into(), NoteError::MissingSize),
            (
                format!("trialgate/T\n012\n{root}\n"),
                NoteError::BadSize("012".into()),
            ),
            (
                format!("trialgate/T\n-1\n{root}\n"),
                NoteError::BadSize("-1".into()),
            ),
            (
                format!("trialgate/T\n18446744073709551616\n{root}\n"),
                NoteError::BadSize("18446744073709551616".into()),
            ),
            (
                format!("trialgate/T\n 12\n{root}\n"),
                NoteError::BadSize(" 12".into()),
            ),
            ("trialgate/T\n12\n".into(), NoteError::MissingRoot),
            (
                "trialgate/T\n12\nAAAA\n".into(),
                NoteError::BadRoot("AAAA".into()),
            ),
            (
                format!("trialgate/T\n12\n{}\n", &root[..root.len() - 1]),
                NoteError::BadRoot(root[..root.len() - 1].to_string()),
            ),
        ];
        for (text, expected) in body_cases {
            assert_eq!(
                parse_and_verify(&signed_raw(&text), DEFAULT_ORIGIN, &public()),
                Err(expected),
                "{text:?}"
            );
        }
        // Extension lines are allowed and signed.
        let extended = format!("trialgate/T\n0\n{root}\nextension line\n");
        assert_eq!(
            parse_and_verify(&signed_raw(&extended), DEFAULT_ORIGIN, &public())
                .unwrap()
                .size,
            0
        );

        let (body, sig) = good.split_once("\n\n").unwrap();
        let note_cases: Vec<(String, NoteError)> = vec![
            (format!("{body}\n{sig}"), NoteError::NoSeparator),
            (format!("{body}\n\n"), NoteError::NoSignatures),
            (
                format!("{body}\n\n{}", sig.trim_end()),
                NoteError::UnterminatedSignatures,
            ),
            (
                format!("{body}\n\n- trialgate AAAAAAAA\n{sig}"),
                NoteError::SignatureLinePrefix { line: 1 },
            ),
            (
                format!("{body}\n\n{sig}— bad+name AAAAAAAA\n"),
                NoteError::SignatureLineName { line: 2 },
            ),
            (
                format!("{body}\n\n{sig}—  AAAAAAAA\n"),
                NoteError::SignatureLineName { line: 2 },
            ),
            (
                format!("{body}\n\n{sig}— other AAAA\n"),
                NoteError::SignatureLineBase64 { line: 2 },
            ),
            (
                format!("{body}\n\n{sig}— other not-base64!\n"),
                NoteError::SignatureLineBase64 { line: 2 },
            ),
            (
                format!("{body}\n\n{sig}— other\n"),
                NoteError::SignatureLineBase64 { line: 2 },
            ),
            (
                good.replace("trialgate/", "trial\rgate/"),
                NoteError::ControlCharacter { offset: 5 },
            ),
            (
                format!("{body}\n\n{}", sig.repeat(101)),
                NoteError::TooManySignatures,
            ),
        ];
        for (note, expected) in note_cases {
            assert_eq!(
                parse_and_verify(&note, DEFAULT_ORIGIN, &public()),
                Err(expected),
                "{note:?}"
            );
        }
        // A repeated line of our key is ignored after the first (as Go does).
        let doubled = format!("{good}{sig}");
        assert!(parse_and_verify(&doubled, DEFAULT_ORIGIN, &public()).is_ok());

        // Messages say what is wrong.
        assert_eq!(
            NoteError::BadSize("012".into()).to_string(),
            "checkpoint tree size \"012\" is not a decimal number (digits only, no leading zeros, below 2^64)"
        );
        assert_eq!(
            NoteError::BadRoot("AAAA".into()).to_string(),
            "checkpoint root hash \"AAAA\" is not standard base64 of 32 bytes"
        );
        assert_eq!(
            NoteError::BadOriginLine(String::new()).to_string(),
            "checkpoint origin line \"\" is empty or contains a control character"
        );
    }

    #[test]
    fn signing_refuses_what_could_not_be_parsed_back() {
        let bad_origin = SignedCheckpoint {
            origin: "a\nb".into(),
            ..checkpoint()
        };
        assert!(matches!(
            sign(&bad_origin, &key(), DEFAULT_ORIGIN),
            Err(NoteError::BadOriginLine(_))
        ));
        for name in ["", "two words", "a+b"] {
            assert_eq!(
                sign(&checkpoint(), &key(), name),
                Err(NoteError::BadKeyName(name.into()))
            );
        }
        for text in ["", "no newline", "a\n\nb\n", "\n", "tab\there\n"] {
            assert_eq!(sign_note(text, &key(), "k"), Err(NoteError::BadText));
        }
    }
}
