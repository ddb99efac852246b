use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::trial;
use crate::access::Permission;
use crate::http::error::ApiError;
use crate::http::extract::{idempotency_key, parse_json, run_db, AuthUser, JsonBytes};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::views::{Allocation, Balance};
use crate::service::{allocation, queries};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomizationRequest {
    pub screening_id: String,
}

impl crate::fields::JsonRequest for RandomizationRequest {}

/// Randomize an eligible patient. With an `Idempotency-Key`, a replay returns the same
/// Allocation (header `Idempotent-Replayed: true`), never a second one.
#[utoipa::path(post, operation_id = "randomize", tag = "subjects",
    params(("trial" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "≤ 128 characters; replays return the same allocation")),
    request_body = RandomizationRequest,
    responses((status = 201, body = Allocation), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already_randomized, stale_screening, not_eligible, trial_closed, enrollment_closed"),
        (status = 422, body = Problem, description = "validation_failed, idempotency_conflict"),
        (status = 503, body = Problem, description = "seed_unavailable")),
    security(("bearer" = [])))]
#[post("/trials/{trial}/randomizations")]
pub async fn randomize(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    user.0.require_permission(Permission::Randomize)?;
    let request: RandomizationRequest = parse_json(&body.0)?;
    let key = idempotency_key(&req)?;
    let trial_id = t.protocol.id.clone();
    let result = run_db(&state, move |c| {
        allocation::randomize(c, &t, &user.0, &request.screening_id, key.as_deref(), None)
    })
    .await?;
    if !result.replayed {
        state
            .metrics
            .allocations
            .with_label_values(&[&trial_id])
            .inc();
    }
    let mut response = HttpResponse::Created();
    response.insert_header((
        "Location",
        format!(
            "/api/v1/trials/{trial_id}/subjects/{}",
            result.allocation.subject_id
        ),
    ));
    if result.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(result.allocation))
}

/// Allocations in sequence order (site-limited users: their sites).
#[utoipa::path(get, operation_id = "listSubjects", tag = "subjects",
    params(("trial" = String, Path)),
    responses((status = 200, body = [Allocation]), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/subjects")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let out = run_db(&state, move |c| queries::list_subjects(c, &t, &user.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// One allocation.
#[utoipa::path(get, operation_id = "getSubject", tag = "subjects",
    params(("trial" = String, Path), ("subject_id" = String, Path)),
    responses((status = 200, body = Allocation), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/subjects/{subject_id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (trial_id, subject_id) = path.into_inner();
    let t = trial(&state, &trial_id)?;
    let out = run_db(&state, move |c| {
        queries::get_subject(c, &t, &user.0, &subject_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    pub reason: String,
}

impl crate::fields::JsonRequest for WithdrawalRequest {}

/// Withdraw a subject; it stays randomized (intention to treat) and counts toward the cap.
#[utoipa::path(post, operation_id = "withdrawSubject", tag = "subjects",
    params(("trial" = String, Path), ("subject_id" = String, Path)),
    request_body = WithdrawalRequest,
    responses((status = 200, body = Allocation), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already_withdrawn, trial_closed"), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/trials/{trial}/subjects/{subject_id}/withdrawal")]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let (trial_id, subject_id) = path.into_inner();
    let t = trial(&state, &trial_id)?;
    user.0.require_permission(Permission::Withdraw)?;
    let request: WithdrawalRequest = parse_json(&body.0)?;
    let out = run_db(&state, move |c| {
        allocation::withdraw(c, &t, &user.0, &subject_id, &request.reason, None)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Counts per arm overall and per stratum, and every block's fill (monitors).
#[utoipa::path(get, operation_id = "getBalance", tag = "monitoring",
    params(("trial" = String, Path)),
    responses((status = 200, body = Balance), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/balance")]
pub async fn balance(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let out = run_db(&state, move |c| queries::balance(c, &t, &user.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}
