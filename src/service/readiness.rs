//! Readiness (`/readyz`, `trialgate doctor`): can this server do everything it may be asked?
//! Liveness (`/healthz`) only says it runs and reaches its database. A server whose seed file
//! for a trial is missing answers every randomization of it with 503; one whose checkpoint key
//! is not the database's signs checkpoints no monitor can check. Both are not ready.

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::json;

use super::data_dir::DataDir;
use super::{now, Trials};
use crate::audit::checkpoint::{key_id, public_key_base64};
use crate::audit::{Action, SYSTEM_CHAIN};
use crate::randomization::Seed;
use crate::storage::repo::signing_keys::{self, SigningKey};
use crate::storage::{self, repo, DbConnection, StorageError};

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

/// One check of [`doctor`]: what was looked at, and the problem found (none: fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub subject: String,
    pub problem: Option<String>,
}

impl Finding {
    fn ok(subject: impl Into<String>) -> Self {
        Finding {
            subject: subject.into(),
            problem: None,
        }
    }

    fn problem(subject: impl Into<String>, problem: impl Into<String>) -> Self {
        Finding {
            subject: subject.into(),
            problem: Some(problem.into()),
        }
    }
}

/// Whether a secret file is readable by others than its owner (Unix modes).
fn exposed(path: &std::path::Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0)
            .then(|| format!("mode {mode:o}: others than its owner can read it (chmod 600)"))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `trialgate doctor`: what a server on this data directory and database would lack — the
/// schema, each trial's seed file (present, matching its commitment, private), the checkpoint
/// key (present, private, the database's) and the admin token's file mode.
pub fn doctor(conn: &mut DbConnection, data_dir: &DataDir) -> Result<Vec<Finding>, StorageError> {
    let mut out = Vec::new();
    let pending = storage::pending_migrations(conn)?;
    out.push(if pending.is_empty() {
        Finding::ok("database schema")
    } else {
        Finding::problem(
            "database schema",
            format!(
                "{} migrations not applied ({}): run `trialgate migrate` or start the server",
                pending.len(),
                pending.join(", ")
            ),
        )
    });
    if !pending.is_empty() {
        return Ok(out);
    }
    for row in repo::trials::list(conn)? {
        let subject = format!("trial {} seed file", row.id);
        let path = data_dir.seed_file(&row.id);
        out.push(match Seed::read_file(&path) {
            Err(e) => Finding::problem(subject, e.to_string()),
            Ok(seed) if seed.commitment() != row.seed_commitment => Finding::problem(
                subject,
                format!(
                    "{} does not match the trial's commitment: restore the original seed file",
                    path.display()
                ),
            ),
            Ok(_) => match exposed(&path) {
                Some(p) => Finding::problem(subject, format!("{}: {p}", path.display())),
                None => Finding::ok(subject),
            },
        });
    }
    let key_file = data_dir.checkpoint_key_file();
    let subject = "checkpoint key";
    out.push(match crate::audit::checkpoint::load_key_file(&key_file) {
        Err(e) => Finding::problem(
            subject,
            format!("{e}: copy checkpoint.key and checkpoint.pub from the first server's data directory"),
        ),
        Ok(key) => {
            let id = key_id(&key.verifying_key());
            let known = signing_keys::list(conn)?;
            if let Some(p) = exposed(&key_file) {
                Finding::problem(subject, format!("{}: {p}", key_file.display()))
            } else if !known.is_empty() && !known.iter().any(|k| k.key_id == id) {
                Finding::problem(
                    subject,
                    format!(
                        "key {id} is not this database's ({}): copy checkpoint.key and checkpoint.pub from the server that has it",
                        known.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            } else {
                Finding::ok(format!("{subject} {id}"))
            }
        }
    });
    let token = data_dir.admin_token_file();
    if token.exists() {
        out.push(match exposed(&token) {
            Some(p) => Finding::problem("admin token file", format!("{}: {p}", token.display())),
            None => Finding::ok("admin token file"),
        });
    }
    Ok(out)
}
