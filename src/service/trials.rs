//! A trial's life as a whole: amending its protocol, closing it (with the optional seed
//! reveal).

use serde_json::json;

use super::{now, TrialRuntime};
use crate::access::{Permission, User};
use crate::audit::signature::{Meaning, Signature};
use crate::audit::Action;
use crate::fields::FieldError;
use crate::protocol::amendment::AmendmentError;
use crate::protocol::Protocol;
use crate::service::error::{Invalid, NotFound, TrialClosed};
use crate::service::queries::QueryError;
use crate::service::signatures::Signer;
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
    #[error(transparent)]
    Internal(#[from] crate::service::error::Internal),
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
    signer: Option<&Signer>,
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
        let signature = signer.map(|s| {
            s.sign(
                &Meaning::CloseTrial {
                    trial_id: trial_id.to_string(),
                },
                at,
            )
        });
        let mut data =
            json!({ "reason": reason, "enrolled": enrolled, "seed_revealed": reveal_seed });
        if let Some(sig) = &signature {
            data["signature"] = json!(sig);
        }
        storage::append_audit(
            c,
            &mut head,
            at,
            &user.name,
            Some(user.role),
            Action::TrialClosed,
            data,
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
        let signature = signature.as_ref().map(Signature::to_json);
        repo::trials::close(c, trial_id, at, reason, reveal_seed, signature.as_deref())?;
        Ok::<_, TrialError>(())
    })?;
    Ok(super::queries::trial_detail(conn, trial, user)?)
}

/// A new protocol version, as `POST …/amendments` answers it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Amendment {
    pub version: i32,
    pub protocol_digest: String,
    pub effective_at: String,
    /// The protocol's top-level keys that changed, e.g. `criteria`, `cap`.
    pub changed: Vec<String>,
}

/// Longest accepted amendment reason (the same rule as every reason).
const MAX_REASON: usize = crate::text::MAX_REASON_CHARS;

/// Puts `text` (a whole protocol file, TOML) in force as the trial's next protocol version.
/// Design keys are fixed once a subject is randomized; the cap may not fall below the
/// randomized count; the trial id may not change. Audited as `protocol.amended`; the server's
/// cached protocol is replaced for the requests that follow (other servers notice the new
/// version under their next write's lock).
#[tracing::instrument(name = "amend_protocol", skip_all, fields(trial = %trial.protocol.id, user = %user.name))]
pub fn amend(
    conn: &mut DbConnection,
    trials: &super::Trials,
    trial: &TrialRuntime,
    user: &User,
    text: &str,
    reason: &str,
) -> Result<Amendment, TrialError> {
    user.require_permission(Permission::AmendProtocol)?;
    let (reason, new) = parse_amendment(text, reason)?;
    let trial_id = trial.protocol.id.as_str();
    let at = now();
    let (amendment, version) = storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, trial_id)?;
        let current = super::screening::in_force::<TrialError>(c, trial)?;
        if current.status == crate::protocol::TrialStatus::Closed {
            return Err(TrialClosed(trial_id.to_string()).into());
        }
        let enrolled = repo::subjects::count(c, trial_id)?;
        let changed = crate::protocol::amendment::check(&current.protocol, &new, enrolled)
            .map_err(refused)?;
        let version = current.version + 1;
        let row = repo::trials::ProtocolVersion {
            trial_id: trial_id.to_string(),
            version,
            protocol_json: new.canonical_json(),
            protocol_digest: new.digest(),
            effective_at: at,
            reason: reason.clone(),
            amended_by: user.name.clone(),
        };
        repo::trials::insert_version(c, &row)?;
        repo::trials::set_protocol(c, trial_id, &row, i64::from(new.cap))?;
        storage::append_audit(
            c,
            &mut head,
            at,
            &user.name,
            Some(user.role),
            Action::ProtocolAmended,
            json!({
                "version": version,
                "old_digest": current.protocol.digest(),
                "new_digest": row.protocol_digest,
                "changed": changed,
                "reason": reason,
            }),
        )?;
        let amendment = Amendment {
            version,
            protocol_digest: row.protocol_digest.clone(),
            effective_at: super::format_time(at),
            changed,
        };
        Ok::<_, TrialError>((amendment, version))
    })?;
    trials.replace(TrialRuntime {
        protocol: new,
        version,
        seed: trial.seed.clone(),
        seed_problem: trial.seed_problem.clone(),
    });
    Ok(amendment)
}

/// The reason and the parsed protocol of an amendment, or every problem with them.
fn parse_amendment(text: &str, reason: &str) -> Result<(String, Protocol), Invalid> {
    let mut errors = Vec::new();
    let reason = crate::text::check_reason(reason, MAX_REASON)
        .map_err(|message| errors.push(FieldError::new("reason", message)))
        .ok();
    let new = Protocol::from_toml(text, "amendment")
        .map_err(|e| errors.push(FieldError::new("protocol", e.to_string())))
        .ok();
    match (reason, new) {
        (Some(reason), Some(new)) => Ok((reason, new)),
        _ => Err(Invalid(errors)),
    }
}

/// An amendment's refusals, each at the protocol key it names.
fn refused(refusals: Vec<AmendmentError>) -> Invalid {
    Invalid(
        refusals
            .iter()
            .map(|r| FieldError::new(r.key(), r.to_string()))
            .collect(),
    )
}

/// What an amendment would put in force, checked exactly as [`amend`] checks it but not
/// written: the admin's review before confirming.
pub struct AmendmentReview {
    /// The version it would become.
    pub version: i32,
    pub current: Protocol,
    pub proposed: Protocol,
    /// The top-level keys it changes.
    pub changed: Vec<String>,
}

/// Reviews an amendment: the same permission, parsing and refusals as [`amend`], read in one
/// snapshot, nothing written (the confirmed amendment is checked again when it is made).
pub fn review_amendment(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    text: &str,
    reason: &str,
) -> Result<AmendmentReview, TrialError> {
    user.require_permission(Permission::AmendProtocol)?;
    let (_, proposed) = parse_amendment(text, reason)?;
    let trial_id = trial.protocol.id.as_str();
    storage::read_transaction(conn, |c| {
        let current = super::screening::in_force::<TrialError>(c, trial)?;
        if current.status == crate::protocol::TrialStatus::Closed {
            return Err(TrialClosed(trial_id.to_string()).into());
        }
        let enrolled = repo::subjects::count(c, trial_id)?;
        let changed = crate::protocol::amendment::check(&current.protocol, &proposed, enrolled)
            .map_err(refused)?;
        Ok(AmendmentReview {
            version: current.version + 1,
            current: current.protocol.into_owned(),
            proposed,
            changed,
        })
    })
}
