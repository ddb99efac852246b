//! Readiness (`/readyz`, `trialgate doctor`): can this server do everything it may be asked?
//! Liveness (`/healthz`) only says it runs and reaches its database. A server whose seed file
//! for a trial is missing answers every randomization of it with 503; one whose checkpoint key
//! is not the database's signs checkpoints no monitor can check. Both are not ready.

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::json;

use super::{now, Trials};
use crate::audit::checkpoint::{key_id, public_key_base64};
use crate::audit::{Action, SYSTEM_CHAIN};
use crate::storage::repo::signing_keys::{self, SigningKey};
use crate::storage::{self, DbConnection, StorageError};

/// How this server's checkpoint key stands with the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRegistration {
    /// The database had no key: this one is now its key (audited).
    Registered,
    /// The database knows this key.
    Known,
    /// The database's logs are signed with other keys (their ids).
    Foreign { registered: Vec<String> },
}

/// Records `key` as the database's checkpoint key when it has none (the first server to
/// start); otherwise says whether it is one of the database's keys. Servers starting together
/// are serialised by the `_system` chain's head lock.
pub fn register_signing_key(
    conn: &mut DbConnection,
    key: &VerifyingKey,
) -> Result<KeyRegistration, StorageError> {
    let id = key_id(key);
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        let keys = signing_keys::list(c)?;
        if keys.iter().any(|k| k.key_id == id) {
            return Ok(KeyRegistration::Known);
        }
        if !keys.is_empty() {
            return Ok(KeyRegistration::Foreign {
                registered: keys.into_iter().map(|k| k.key_id).collect(),
            });
        }
        let at = now();
        let public_key = public_key_base64(key);
        storage::append_audit(
            c,
            &mut head,
            at,
            "trialgate",
            None,
            Action::SigningKeyRegistered,
            json!({ "key_id": id, "public_key": public_key }),
        )?;
        signing_keys::insert(
            c,
            &SigningKey {
                key_id: id.clone(),
                public_key,
                registered_at: at,
            },
        )?;
        Ok(KeyRegistration::Registered)
    })
}

/// `/readyz`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// What keeps the server from being ready, one sentence each, naming the trial or key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Every reason this server is not ready: a trial without its seed, a checkpoint key that is
/// not the database's.
pub fn readiness(
    conn: &mut DbConnection,
    trials: &Trials,
    key: &VerifyingKey,
) -> Result<Readiness, StorageError> {
    let mut problems = Vec::new();
    for t in trials.all() {
        if t.seed.is_none() {
            problems.push(format!(
                "trial {}: randomization unavailable: {}",
                t.protocol.id,
                t.seed_problem
                    .as_deref()
                    .unwrap_or("its seed file is missing")
            ));
        }
    }
    let id = key_id(key);
    let keys = signing_keys::list(conn)?;
    if !keys.iter().any(|k| k.key_id == id) {
        let known: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
        problems.push(if known.is_empty() {
            format!("checkpoint key {id} is not registered in the database (restart the server)")
        } else {
            format!(
                "checkpoint key {id} is not this database's (key {}): copy checkpoint.key and checkpoint.pub from the data directory of the server that has it",
                known.join(", key ")
            )
        });
    }
    Ok(Readiness {
        status: if problems.is_empty() {
            "ready"
        } else {
            "not_ready"
        },
        problems,
    })
}
