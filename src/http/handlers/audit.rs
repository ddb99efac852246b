use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::trial;
use crate::access::Permission;
use crate::http::error::ApiError;
use crate::http::extract::{run_db, AuthUser};
use crate::http::problem::Problem;
use crate::http::schemas::{FhirBundle, TrialExport};
use crate::http::state::AppState;
use crate::service::audit_trail;
use crate::service::exports::{self, ExportFormat};
use crate::service::views::{AuditEntryView, AuditHead, AuditVerification};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries with a larger seq (default 0); 0 up to the chain head's seq.
    pub after: Option<i64>,
    /// At most 1000 (default 100).
    pub limit: Option<i64>,
}

/// Audit entries in order.
#[utoipa::path(get, operation_id = "listAuditEntries", tag = "monitoring",
    params(("trial" = String, Path), AuditQuery),
    responses((status = 200, body = [AuditEntryView]), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/audit")]
pub async fn entries(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let q = query.into_inner();
    let out = run_db(&state, move |c| {
        let after = q.after.unwrap_or(0);
        // A position in the chain: past its head it names no entry (and invites a client's
        // paging arithmetic to overflow), so it is refused rather than answered with [].
        let last = audit_trail::head(c, &t, &user.0)?.seq;
        if after > last {
            return Err(ApiError::field(
                "after",
                format!("must be 0–{last} (the chain head's seq)"),
            ));
        }
        Ok::<_, ApiError>(audit_trail::entries(
            c,
            &t,
            &user.0,
            after,
            q.limit.unwrap_or(100),
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The chain head: record it to detect later truncation or rewrite.
#[utoipa::path(get, operation_id = "getAuditHead", tag = "monitoring",
    params(("trial" = String, Path)),
    responses((status = 200, body = AuditHead), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/audit/head")]
pub async fn head(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let out = run_db(&state, move |c| audit_trail::head(c, &t, &user.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The head signed with the server's Ed25519 key (see the monitor guide). Deprecated: use
/// `GET …/log/checkpoint`, the Merkle log's signed note.
#[utoipa::path(get, operation_id = "getAuditCheckpoint", tag = "monitoring",
    params(("trial" = String, Path)),
    responses((status = 200, body = crate::audit::checkpoint::Checkpoint), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/audit/checkpoint")]
pub async fn checkpoint(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let key = state.checkpoint_key.clone();
    let out = run_db(&state, move |c| {
        audit_trail::checkpoint(c, &t, &user.0, &key)
    })
    .await?;
    // Kept for one release; the Merkle log's signed note replaces it (RFC 9745, RFC 8288).
    Ok(HttpResponse::Ok()
        .insert_header(("Deprecation", "true"))
        .insert_header((
            "Link",
            format!(
                "</api/v1/trials/{}/log/checkpoint>; rel=\"successor-version\"",
                out.trial
            ),
        ))
        .json(out))
}

/// Recomputes every hash of the chain.
#[utoipa::path(get, operation_id = "verifyAudit", tag = "monitoring",
    params(("trial" = String, Path)),
    responses((status = 200, body = AuditVerification), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/audit/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let out = run_db(&state, move |c| audit_trail::verify(c, &t, &user.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// csv, json or fhir
    pub format: String,
}

/// Subjects as CSV, everything as JSON, or a FHIR R4 Bundle.
#[utoipa::path(get, operation_id = "exportTrial", tag = "monitoring",
    params(("trial" = String, Path), ExportQuery),
    responses((status = 200, description = "The export",
        content((String = "text/csv"), (TrialExport = "application/json"), (FhirBundle = "application/fhir+json"))),
        (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/export")]
pub async fn export(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    user.0.require_permission(Permission::Monitor)?;
    let format = ExportFormat::parse(&query.format)
        .ok_or_else(|| ApiError::field("format", "must be csv, json or fhir"))?;
    let trial_id = t.protocol.id.clone();
    let body = run_db(&state, move |c| exports::export(c, &t, &user.0, format)).await?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{trial_id}.{}\"", format.extension()),
        ))
        .body(body))
}
