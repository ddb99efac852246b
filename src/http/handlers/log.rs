//! The Merkle log: signed checkpoints, proofs and receipts (docs/api.md, "Receipts and the
//! Merkle log").

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::trial;
use crate::audit::receipt::Receipt;
use crate::http::error::ApiError;
use crate::http::extract::{run_db, AuthUser};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::receipts::{self, LogSigner};
use crate::service::views::{ConsistencyProof, InclusionProof};

/// The trial's tree, as a C2SP tlog-checkpoint signed note.
#[utoipa::path(get, operation_id = "getLogCheckpoint", tag = "monitoring",
    params(("trial" = String, Path)),
    responses((status = 200, content_type = "text/plain", body = String,
        description = "origin line `{origin}/{trial}`, tree size, base64 root, blank line, Ed25519 signature line"),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/log/checkpoint")]
pub async fn checkpoint(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let (key, origin) = (state.checkpoint_key.clone(), state.log_origin.clone());
    let note = run_db(&state, move |c| {
        let signer = LogSigner {
            key: &key,
            origin: &origin,
        };
        receipts::checkpoint(c, &t, &user.0, &signer)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(note))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size (0 up to `to`).
    pub from: u64,
    /// The newer tree size (at most the current size).
    pub to: u64,
}

/// Proof that the tree of `to` entries extends the tree of `from` entries.
#[utoipa::path(get, operation_id = "getLogConsistency", tag = "monitoring",
    params(("trial" = String, Path), ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/log/consistency")]
pub async fn consistency(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let q = query.into_inner();
    let out = run_db(&state, move |c| {
        receipts::consistency(c, &t, &user.0, q.from, q.to)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The entry (1 up to `size`).
    pub seq: i64,
    /// The tree size (at most the current size).
    pub size: u64,
}

/// Proof that entry `seq` is in the tree of `size` entries, with its nonce and record.
#[utoipa::path(get, operation_id = "getLogInclusion", tag = "monitoring",
    params(("trial" = String, Path), InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/log/inclusion")]
pub async fn inclusion(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let q = query.into_inner();
    let out = run_db(&state, move |c| {
        receipts::inclusion(c, &t, &user.0, q.seq, q.size)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// A subject's receipt: its allocation's entry, proven in the log and signed; verifies offline
/// with `trialgate receipt verify`.
#[utoipa::path(get, operation_id = "getSubjectReceipt", tag = "subjects",
    params(("trial" = String, Path), ("subject_id" = String, Path)),
    responses((status = 200, body = Receipt), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/subjects/{subject_id}/receipt")]
pub async fn receipt(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (trial_id, subject_id) = path.into_inner();
    let t = trial(&state, &trial_id)?;
    let (key, origin) = (state.checkpoint_key.clone(), state.log_origin.clone());
    let out = run_db(&state, move |c| {
        let signer = LogSigner {
            key: &key,
            origin: &origin,
        };
        receipts::receipt(c, &t, &user.0, &signer, &subject_id)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"receipt-{}.json\"", out.subject_id),
        ))
        .json(out))
}
