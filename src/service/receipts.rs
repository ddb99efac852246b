//! The Merkle log as clients read it: signed checkpoints (C2SP signed notes), inclusion and
//! consistency proofs, and a subject's receipt.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::SigningKey;

use super::TrialRuntime;
use crate::access::{Permission, User};
use crate::audit::merkle::{encode_proof, MerkleError};
use crate::audit::note::{self, SignedCheckpoint};
use crate::audit::receipt::Receipt;
use crate::service::error::{Internal, Invalid, NotFound};
use crate::service::queries::QueryError;
use crate::service::views::{ConsistencyProof, InclusionProof};
use crate::storage::{self, repo, DbConnection, StorageError};

/// What signs checkpoints: the server's key and the log's origin (`--log-origin`), which is
/// also the signed note's key name.
pub struct LogSigner<'a> {
    pub key: &'a SigningKey,
    pub origin: &'a str,
}

impl LogSigner<'_> {
    fn sign(&self, trial: &str, size: u64, root: [u8; 32]) -> Result<String, Internal> {
        let checkpoint = SignedCheckpoint::for_trial(self.origin, trial, size, root);
        note::sign(&checkpoint, self.key, self.origin)
            .map_err(|e| Internal::caused("signing a checkpoint", e))
    }
}

/// A proof request beyond the tree is the client's mistake, named by its field.
fn proof_error(e: StorageError, field: &str) -> QueryError {
    match e {
        StorageError::Merkle(
            m @ (MerkleError::SizeUnavailable { .. }
            | MerkleError::IndexOutOfRange { .. }
            | MerkleError::SizesOutOfOrder { .. }
            | MerkleError::BadSeq(_)),
        ) => Invalid::field(field, m.to_string()).into(),
        other => other.into(),
    }
}

/// The trial's current tree, signed.
pub fn checkpoint(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    signer: &LogSigner<'_>,
) -> Result<String, QueryError> {
    user.require_permission(Permission::VerifyLog)?;
    let id = &trial.protocol.id;
    let (size, root) = storage::read_transaction(conn, |c| {
        let size = storage::log_size(c, id)?;
        Ok::<_, StorageError>((size, storage::log_root(c, id, size)?))
    })?;
    Ok(signer.sign(id, size, root)?)
}

pub fn consistency(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    from: u64,
    to: u64,
) -> Result<ConsistencyProof, QueryError> {
    user.require_permission(Permission::VerifyLog)?;
    let proof = storage::log_consistency(conn, &trial.protocol.id, from, to)
        .map_err(|e| proof_error(e, if from > to { "from" } else { "to" }))?;
    Ok(ConsistencyProof {
        from,
        to,
        proof: encode_proof(&proof),
    })
}

pub fn inclusion(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    seq: i64,
    size: u64,
) -> Result<InclusionProof, QueryError> {
    user.require_permission(Permission::VerifyLog)?;
    let id = &trial.protocol.id;
    let index = crate::audit::merkle::leaf_index(seq)
        .map_err(|e| QueryError::from(Invalid::field("seq", e.to_string())))?;
    storage::read_transaction(conn, |c| {
        let proof = storage::log_inclusion(c, id, index, size)
            .map_err(|e| proof_error(e, if index >= size { "seq" } else { "size" }))?;
        let (nonce, record) = storage::log_leaf(c, id, seq)?
            .ok_or_else(|| Invalid::field("seq", format!("entry {seq} is not in the log")))?;
        Ok(InclusionProof {
            seq,
            tree_size: size,
            leaf_index: index,
            nonce: BASE64.encode(nonce),
            record,
            proof: encode_proof(&proof),
        })
    })
}

/// The receipt's record names the subject's position in its stratum. A site-limited user can
/// count that position from what they already read — the trial's sequence when unstratified,
/// their own site's subjects when the site is a factor — but not when a stratum spans sites:
/// then it would tell them how many allocations other sites made in it. Refused there.
fn require_position_known(
    user: &User,
    protocol: &crate::protocol::Protocol,
) -> Result<(), crate::access::AccessDenied> {
    use crate::protocol::StratificationFactor;
    let spans_sites = !protocol.stratification.is_empty()
        && !protocol
            .stratification
            .contains(&StratificationFactor::Site);
    if user.is_site_limited() && spans_sites {
        return Err(crate::access::AccessDenied(
            "this trial's strata span sites, so a receipt would tell a site-limited user about              other sites' allocations; a monitor can issue it"
                .into(),
        ));
    }
    Ok(())
}

/// The receipt of `subject_id`'s allocation, for its site's users and monitors: the tree is
/// the one its own entry completed, so no later entry (of this or another site) is involved.
pub fn receipt(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    signer: &LogSigner<'_>,
    subject_id: &str,
) -> Result<Receipt, QueryError> {
    user.require_permission(Permission::ReadPatients)?;
    if crate::service::error::impossible_id(subject_id) {
        return Err(NotFound::subject(subject_id).into());
    }
    let id = &trial.protocol.id;
    storage::read_transaction(conn, |c| {
        let subject =
            repo::subjects::get(c, id, subject_id)?.ok_or_else(|| NotFound::subject(subject_id))?;
        user.require_site(&subject.site)?;
        require_position_known(user, &trial.protocol)?;
        let seq = subject.audit_seq;
        let size = seq as u64;
        let index = size - 1;
        let proof = storage::log_inclusion(c, id, index, size)?;
        let root = storage::log_root(c, id, size)?;
        let (nonce, record) = storage::log_leaf(c, id, seq)?.ok_or_else(|| {
            Internal::new(format!(
                "entry {seq} of subject {subject_id} is not in the log"
            ))
        })?;
        Ok(Receipt {
            subject_id: subject.id,
            seq: size,
            nonce: BASE64.encode(nonce),
            record,
            tree_size: size,
            proof: encode_proof(&proof),
            checkpoint: signer.sign(id, size, root)?,
        })
    })
}
