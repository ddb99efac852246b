//! Start-up: initialise trials (seed, commitment, audit), load what this process serves,
//! and create the first admin.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use super::data_dir::DataDir;
use super::{now, TrialRuntime, Trials};
use crate::access::{User, SYSTEM_ROLE};
use crate::audit::{Action, SYSTEM_CHAIN};
use crate::protocol::{Protocol, TrialStatus};
use crate::randomization::{private_file_options, Seed, SeedError, ALGORITHM};
use crate::service::error::Internal;
use crate::service::users::UserError;
use crate::storage::{self, repo, DbConnection};

/// The identity trialgate itself uses in the audit trail.
pub fn system_actor() -> User {
    User {
        name: "trialgate".into(),
        role: SYSTEM_ROLE,
        sites: Vec::new(),
    }
}

/// The database URL in force: the one given, or SQLite in the data directory.
pub fn database_url(data_dir: &Path, given: Option<&str>) -> String {
    DataDir::from(data_dir).database_url(given)
}

/// Creates the data directory, readable by its owner only.
pub fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    DataDir::from(dir).prepare()
}

/// Where a trial's seed file lives.
pub fn seed_path(data_dir: &Path, trial_id: &str) -> PathBuf {
    DataDir::from(data_dir).seed_file(trial_id)
}

/// Where a protocol handed to [`initialise_trial`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolSource {
    /// A file the operator named (`serve --protocol`): it must be the protocol in force.
    Operator,
    /// The built-in default, used when no file is named.
    BuiltIn,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Initialised {
    /// Newly initialised; the seed was generated (`true`) or taken from an existing file.
    New {
        generated_seed: bool,
    },
    AlreadyInitialised,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("trial {trial}: the protocol given differs from the one in force (digest {stored} in the database, {given} given); change a running trial's protocol with `trialgate trial amend`")]
    ProtocolChanged {
        trial: String,
        stored: String,
        given: String,
    },
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<diesel::result::Error> for SetupError {
    fn from(e: diesel::result::Error) -> Self {
        SetupError::Storage(e.into())
    }
}

/// Initialises `protocol`'s trial unless the database has it: takes the seed file if one
/// was placed there, else generates one (written 0600 before the commitment is recorded,
/// so a crash never leaves a commitment without its seed), records the trial and its
/// `trial.initialized` audit entry. Serialised across processes by the system chain's lock.
///
/// For a trial already initialised, the database's protocol (the latest amendment) is in force:
/// a protocol `given` by the operator must be that one; the built-in default is not compared.
pub fn initialise_trial(
    conn: &mut DbConnection,
    protocol: &Protocol,
    given: ProtocolSource,
    data_dir: &Path,
) -> Result<Initialised, SetupError> {
    let path = DataDir::from(data_dir).seed_file(&protocol.id);
    storage::write_transaction(conn, |c| {
        storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        if let Some(row) = repo::trials::get(c, &protocol.id)? {
            let digest = protocol.digest();
            if given == ProtocolSource::Operator && row.protocol_digest != digest {
                return Err(SetupError::ProtocolChanged {
                    trial: protocol.id.clone(),
                    stored: row.protocol_digest,
                    given: digest,
                });
            }
            return Ok(Initialised::AlreadyInitialised);
        }
        let (seed, generated_seed) = match Seed::read_file(&path) {
            Ok(seed) => (seed, false),
            Err(SeedError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let seed = Seed::generate()?;
                match seed.write_new_file(&path) {
                    Ok(()) => (seed, true),
                    // Another process on this data directory won the race: use its seed.
                    Err(SeedError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        (Seed::read_file(&path)?, false)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let at = now();
        let actor = system_actor();
        let mut head = storage::create_chain(c, &protocol.id)?;
        repo::trials::insert(
            c,
            &repo::trials::NewTrial {
                id: &protocol.id,
                title: &protocol.title,
                protocol_json: &protocol.canonical_json(),
                protocol_digest: &protocol.digest(),
                algorithm: ALGORITHM,
                seed_commitment: &seed.commitment(),
                status: TrialStatus::Open,
                cap: i64::from(protocol.cap),
                created_at: at,
                closed_at: None,
                close_reason: None,
            },
        )?;
        repo::trials::insert_version(
            c,
            &repo::trials::ProtocolVersion {
                trial_id: protocol.id.clone(),
                version: 1,
                protocol_json: protocol.canonical_json(),
                protocol_digest: protocol.digest(),
                effective_at: at,
                reason: "initialised".into(),
                amended_by: actor.name.clone(),
            },
        )?;
        let protocol_value: serde_json::Value =
            serde_json::from_str(&protocol.canonical_json()).unwrap_or(serde_json::Value::Null);
        storage::append_audit(
            c,
            &mut head,
            at,
            &actor.name,
            Some(actor.role),
            Action::TrialInitialized,
            json!({
                "seed_commitment": seed.commitment(),
                "protocol_digest": protocol.digest(),
                "algorithm": ALGORITHM,
                "protocol": protocol_value,
            }),
        )?;
        Ok(Initialised::New { generated_seed })
    })
}

/// Every trial in the database, with its seed when the seed file matches the commitment.
/// A missing or mismatching seed file disables randomization for that trial only.
pub fn load_trials(conn: &mut DbConnection, data_dir: &Path) -> Result<Trials, SetupError> {
    let mut map = BTreeMap::new();
    for row in repo::trials::list(conn)? {
        let protocol = Protocol::from_canonical_json(&row.protocol_json, &row.id)
            .map_err(|e| Internal::caused(format!("stored protocol of {}", row.id), e))?;
        let path = DataDir::from(data_dir).seed_file(&row.id);
        let (seed, seed_problem) = match Seed::read_file(&path) {
            Ok(seed) if seed.commitment() == row.seed_commitment => (Some(seed), None),
            Ok(seed) => (
                None,
                Some(format!(
                    "seed file {} has commitment {} but the trial's recorded commitment is {}",
                    path.display(),
                    seed.commitment(),
                    row.seed_commitment
                )),
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        if let Some(problem) = &seed_problem {
            tracing::error!(
                trial = %row.id,
                "randomization disabled (seed_unavailable): {problem}; restore the trial's seed file — a new seed is never generated for an initialised trial"
            );
        }
        map.insert(
            row.id.clone(),
            Arc::new(TrialRuntime {
                protocol,
                version: row.protocol_version,
                seed,
                seed_problem,
            }),
        );
    }
    Ok(Trials::new(map))
}

/// Creates the first admin when the database has no users, writing its token to
/// `admin.token` (0600) in the data directory. Returns the file's path when it did.
pub fn bootstrap_admin(
    conn: &mut DbConnection,
    data_dir: &Path,
) -> Result<Option<PathBuf>, SetupError> {
    if repo::users::count(conn)? > 0 {
        return Ok(None);
    }
    let created = match super::users::create(conn, &system_actor(), "admin", "admin", &[]) {
        Ok(created) => created,
        // Another server process created it first.
        Err(UserError::Invalid(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let path = DataDir::from(data_dir).admin_token_file();
    let io = |source| SetupError::Io {
        path: path.display().to_string(),
        source,
    };
    // A token file left from an earlier database is stale: replace it.
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut file = private_file_options().open(&path).map_err(io)?;
    file.write_all(format!("{}\n", created.token).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    Ok(Some(path))
}

/// Puts in force, in this server's cache, every protocol version another server amended since
/// (writes already read the version under the lock; this keeps the read views — criteria,
/// texts, cap — current too). Returns the trials refreshed.
pub fn refresh_trials(conn: &mut DbConnection, trials: &Trials) -> Result<Vec<String>, SetupError> {
    let mut refreshed = Vec::new();
    for row in repo::trials::list(conn)? {
        let Ok(cached) = trials.get(&row.id) else {
            continue;
        };
        if row.protocol_version <= cached.version {
            continue;
        }
        let protocol = Protocol::from_canonical_json(&row.protocol_json, &row.id)
            .map_err(|e| Internal::caused(format!("stored protocol of {}", row.id), e))?;
        trials.replace(TrialRuntime {
            protocol,
            version: row.protocol_version,
            seed: cached.seed.clone(),
            seed_problem: cached.seed_problem.clone(),
        });
        refreshed.push(row.id);
    }
    Ok(refreshed)
}
