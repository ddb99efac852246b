use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::trial;
use crate::http::error::ApiError;
use crate::http::extract::{parse_json, run_db, toml_body, AuthUser, JsonBytes};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::views::{TrialDetail, TrialSummary};
use crate::service::{queries, trials};

/// All trials this server serves.
#[utoipa::path(get, operation_id = "listTrials", tag = "trials",
    responses((status = 200, body = [TrialSummary]), (status = 401, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials")]
pub async fn list(state: web::Data<AppState>, _user: AuthUser) -> Result<HttpResponse, ApiError> {
    let trials = state.trials.clone();
    let out = run_db(&state, move |c| queries::list_trials(c, &trials)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The protocol, status, enrollment and seed commitment (block sizes for monitors/admins).
#[utoipa::path(get, operation_id = "getTrial", tag = "trials",
    params(("trial" = String, Path, description = "Trial id, e.g. NCT06987370")),
    responses((status = 200, body = TrialDetail), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}")]
pub async fn detail(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let out = run_db(&state, move |c| queries::trial_detail(c, &t, &user.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub reason: String,
    #[serde(default)]
    pub reveal_seed: bool,
}

impl crate::fields::JsonRequest for CloseRequest {}

/// Close the trial: stops enrollment; with `reveal_seed` the seed goes into the audit trail.
#[utoipa::path(post, operation_id = "closeTrial", tag = "trials",
    params(("trial" = String, Path)),
    request_body = CloseRequest,
    responses((status = 200, body = TrialDetail), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "trial_closed"), (status = 422, body = Problem),
        (status = 503, body = Problem, description = "seed_unavailable (reveal requested)")),
    security(("bearer" = [])))]
#[post("/trials/{trial}/close")]
pub async fn close(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    user.0
        .require_permission(crate::access::Permission::CloseTrial)?;
    let req: CloseRequest = parse_json(&body.0)?;
    let out = run_db(&state, move |c| {
        trials::close(c, &t, &user.0, &req.reason, req.reveal_seed, None)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AmendmentQuery {
    /// Why the protocol changes (or the `X-Reason` header; a reason that is not ASCII goes
    /// here, percent-encoded).
    pub reason: Option<String>,
}

/// Amend the protocol: the whole new protocol file as TOML; design keys are fixed once a
/// subject is randomized.
#[utoipa::path(post, operation_id = "amendProtocol", tag = "trials",
    params(("trial" = String, Path), AmendmentQuery,
        ("X-Reason" = Option<String>, Header, description = "why the protocol changes (or `reason`)")),
    request_body(content = String, content_type = "application/toml", description = "the whole new protocol file"),
    responses((status = 201, body = crate::service::trials::Amendment), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "trial_closed"), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem, description = "names the protocol key refused")),
    security(("bearer" = [])))]
#[post("/trials/{trial}/amendments")]
pub async fn amend(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<AmendmentQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    user.0
        .require_permission(crate::access::Permission::AmendProtocol)?;
    let body = toml_body(&req, payload).await?;
    let header = req.headers().get("X-Reason");
    let reason = match (query.into_inner().reason, header) {
        (Some(reason), _) => reason,
        (None, Some(value)) => value
            .to_str()
            .map_err(|_| {
                ApiError::field(
                    "reason",
                    "the X-Reason header must be ASCII; send other text in the `reason` query parameter",
                )
            })?
            .to_string(),
        (None, None) => String::new(),
    };
    let text = String::from_utf8(body.0.to_vec())
        .map_err(|e| ApiError::field("protocol", format!("is not UTF-8 text: {e}")))?;
    let all = state.trials.clone();
    let out = run_db(&state, move |c| {
        trials::amend(c, &all, &t, &user.0, &text, &reason)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}
