//! A trial's life as a whole: closing it (with the optional seed reveal).

use serde_json::json;

use super::{now, TrialRuntime};
use crate::access::{Permission, User};
use crate::audit::Action;
use crate::service::error::{Invalid, NotFound, TrialClosed};
use crate::service::queries::QueryError;
use crate::service::views::TrialDetail;
use crate::storage::{self, repo, DbConnection, StorageError};

/// Why a trial could not be closed.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error(transparent)]
    Denied(#[from] crate::access::AccessDenied),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    TrialClosed(#[from] TrialClosed),
    #[error("the seed of trial {0} cannot be revealed: its seed file is missing or does not match the recorded commitment")]
    SeedUnavailable(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The trial closed; reading it back failed.
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl From<diesel::result::Error> for TrialError {
    fn from(e: diesel::result::Error) -> Self {
        TrialError::Storage(e.into())
    }
}

/// Stops enrollment; with `reveal_seed`, writes the seed into the audit trail.
#[tracing::instrument(name = "close_trial", skip_all, fields(trial = %trial.protocol.id, user = %user.name))]
pub fn close(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    reason: &str,
    reveal_seed: bool,
) -> Result<TrialDetail, TrialError> {
    user.require_permission(Permission::CloseTrial)?;
    let reason = crate::text::check_reason(reason, crate::text::MAX_REASON_CHARS)
        .map_err(|message| Invalid::field("reason", message))?;
    let reason = reason.as_str();
    let trial_id = trial.protocol.id.as_str();
    let seed_hex = if reveal_seed {
        Some(
            trial
                .seed
                .as_ref()
                .ok_or_else(|| TrialError::SeedUnavailable(trial_id.to_string()))?
                .to_hex(),
        )
    } else {
        None
    };
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        super::screening::ensure_open::<TrialError>(c, trial_id)?;
        let enrolled = repo::subjects::count(c, trial_id)?;
        storage::append_audit(
            c,
            &mut head,
            at,
            &user.name,
            Some(user.role),
            Action::TrialClosed,
            json!({ "reason": reason, "enrolled": enrolled, "seed_revealed": reveal_seed }),
        )?;
        if let Some(seed) = &seed_hex {
            storage::append_audit(
                c,
                &mut head,
                at,
                &user.name,
                Some(user.role),
                Action::SeedRevealed,
                json!({ "seed": seed, "seed_commitment": trial.seed.as_ref().map(|s| s.commitment()) }),
            )?;
        }
        repo::trials::close(c, trial_id, at, reason, reveal_seed)?;
        Ok::<_, TrialError>(())
    })?;
    Ok(super::queries::trial_detail(conn, trial, user)?)
}
