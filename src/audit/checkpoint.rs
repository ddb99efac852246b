//! Signed checkpoints: the audit head (trial, seq, hash, time) signed with the server's
//! Ed25519 key, which lives in the data directory, apart from the database. A monitor who
//! saved a checkpoint can later prove the chain still extends it, which catches a wholesale
//! rewrite of the chain by someone with database access but not the key.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::randomization::private_file_options;

/// A signed audit head, as `GET /audit/checkpoint` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub trial: String,
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// Standard base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// First 16 hex characters of SHA-256 of the public key.
    pub key_id: String,
    /// Standard base64 of the 64-byte signature of [`message`].
    pub signature: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint key file {0} does not hold a 32-byte key in base64")]
    BadKeyFile(String),
    #[error("could not obtain randomness from the operating system: {0}")]
    Entropy(String),
    #[error("the checkpoint's public key is not valid base64 of 32 bytes")]
    BadPublicKey,
    #[error("the checkpoint's signature is not valid base64 of 64 bytes")]
    BadSignature,
    #[error("the checkpoint's key_id does not match its public key")]
    KeyIdMismatch,
    #[error("the checkpoint's signature does not verify")]
    SignatureInvalid,
}

/// The signed text: `trialgate-checkpoint/v1\n{trial}\n{seq}\n{hash}\n{at}\n`.
pub fn message(trial: &str, seq: i64, hash: &str, at: &str) -> String {
    format!("trialgate-checkpoint/v1\n{trial}\n{seq}\n{hash}\n{at}\n")
}

pub fn key_id(public_key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(public_key.as_bytes()))[..16].to_string()
}

pub fn public_key_base64(public_key: &VerifyingKey) -> String {
    BASE64.encode(public_key.as_bytes())
}

/// A public key as `checkpoint.pub` and `--public-key` give it: standard base64 of 32 bytes.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = BASE64.decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

pub fn sign(key: &SigningKey, trial: &str, seq: i64, hash: &str, at: &str) -> Checkpoint {
    let public = key.verifying_key();
    let signature = key.sign(message(trial, seq, hash, at).as_bytes());
    Checkpoint {
        trial: trial.to_string(),
        seq,
        hash: hash.to_string(),
        at: at.to_string(),
        public_key: public_key_base64(&public),
        key_id: key_id(&public),
        signature: BASE64.encode(signature.to_bytes()),
    }
}

/// Checks the checkpoint's signature against its own public key; returns that key, which
/// the caller must compare with the key it pinned.
pub fn verify_signature(c: &Checkpoint) -> Result<VerifyingKey, CheckpointError> {
    let key_bytes: [u8; 32] = BASE64
        .decode(&c.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(CheckpointError::BadPublicKey)?;
    let public = VerifyingKey::from_bytes(&key_bytes).map_err(|_| CheckpointError::BadPublicKey)?;
    if key_id(&public) != c.key_id {
        return Err(CheckpointError::KeyIdMismatch);
    }
    let sig_bytes: [u8; 64] = BASE64
        .decode(&c.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(CheckpointError::BadSignature)?;
    public
        .verify(
            message(&c.trial, c.seq, &c.hash, &c.at).as_bytes(),
            &Signature::from_bytes(&sig_bytes),
        )
        .map_err(|_| CheckpointError::SignatureInvalid)?;
    Ok(public)
}

pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("checkpoint.key")
}

pub fn public_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("checkpoint.pub")
}

/// Loads the server's signing key from the data directory, creating it (0600) and
/// `checkpoint.pub` beside it on first use.
pub fn load_or_create_key(data_dir: &Path) -> Result<SigningKey, CheckpointError> {
    load_or_create_key_files(&key_path(data_dir), &public_key_path(data_dir))
}

/// Loads the signing key from `key_file`, never creating it (for checks).
pub fn load_key_file(key_file: &Path) -> Result<SigningKey, CheckpointError> {
    let text = std::fs::read_to_string(key_file).map_err(|source| CheckpointError::Io {
        path: key_file.display().to_string(),
        source,
    })?;
    parse_key(&text).ok_or_else(|| CheckpointError::BadKeyFile(key_file.display().to_string()))
}

fn parse_key(text: &str) -> Option<SigningKey> {
    let bytes: [u8; 32] = BASE64.decode(text.trim()).ok()?.try_into().ok()?;
    Some(SigningKey::from_bytes(&bytes))
}

/// Loads the signing key from `key_file`, creating it (0600) on first use, and writes its
/// public key to `public_key_file`. The caller owns the data directory's layout.
pub fn load_or_create_key_files(
    key_file: &Path,
    public_key_file: &Path,
) -> Result<SigningKey, CheckpointError> {
    let path = key_file.to_path_buf();
    let io = |source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = parse_key(&text)
                .ok_or_else(|| CheckpointError::BadKeyFile(path.display().to_string()))?;
            write_public_key(public_key_file, &key)?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| CheckpointError::Entropy(e.to_string()))?;
            let key = SigningKey::from_bytes(&bytes);
            match private_file_options().open(&path) {
                Ok(mut file) => {
                    file.write_all(format!("{}\n", BASE64.encode(bytes)).as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(io)?;
                    write_public_key(public_key_file, &key)?;
                    Ok(key)
                }
                // Another process created it first: use that one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_or_create_key_files(key_file, public_key_file)
                }
                Err(e) => Err(io(e)),
            }
        }
        Err(e) => Err(io(e)),
    }
}

/// `checkpoint.pub`: the public key in base64, for monitors to pin.
fn write_public_key(path: &Path, key: &SigningKey) -> Result<(), CheckpointError> {
    let text = format!("{}\n", public_key_base64(&key.verifying_key()));
    if std::fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_detects_changes() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let c = sign(
            &key,
            "NCT06987370",
            12,
            &"ab".repeat(32),
            "2026-11-27T10:00:00.000000Z",
        );
        assert_eq!(verify_signature(&c).unwrap(), key.verifying_key());
        assert_eq!(c.key_id.len(), 16);
        for tamper in [
            Checkpoint {
                seq: 13,
                ..c.clone()
            },
            Checkpoint {
                hash: "cd".repeat(32),
                ..c.clone()
            },
            Checkpoint {
                trial: "OTHER".into(),
                ..c.clone()
            },
            Checkpoint {
                at: "2026-11-27T10:00:01.000000Z".into(),
                ..c.clone()
            },
        ] {
            assert!(matches!(
                verify_signature(&tamper),
                Err(CheckpointError::SignatureInvalid)
            ));
        }
        let other = SigningKey::from_bytes(&[8; 32]);
        let forged = Checkpoint {
            public_key: public_key_base64(&other.verifying_key()),
            ..c.clone()
        };
        assert!(matches!(
            verify_signature(&forged),
            Err(CheckpointError::KeyIdMismatch)
        ));
    }

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_key(dir.path()).unwrap();
        let b = load_or_create_key(dir.path()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public = std::fs::read_to_string(public_key_path(dir.path())).unwrap();
        assert_eq!(public.trim(), public_key_base64(&a.verifying_key()));
    }
}
