use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::trial;
use crate::access::Permission;
use crate::eligibility::RawScreening;
use crate::http::error::ApiError;
use crate::http::extract::{idempotency_key, run_db, AuthUser, JsonBytes};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::queries::{self, ScreeningFilter, MAX_LIMIT};
use crate::service::screening;
use crate::service::views::ScreeningView;

/// Screen a patient: every criterion evaluated, the outcome and the missing inputs. With an
/// `Idempotency-Key`, a repeat returns the first screening (header `Idempotent-Replayed:
/// true`) instead of recording a second.
#[utoipa::path(post, operation_id = "createScreening", tag = "screenings",
    params(("trial" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "≤ 128 characters; a repeat returns the same screening")),
    request_body(content = crate::eligibility::RawScreening, description = "Screening request (api.md)", content_type = "application/json"),
    responses((status = 201, body = ScreeningView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "trial_closed, already_randomized"),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem, description = "validation_failed, idempotency_conflict")),
    security(("bearer" = [])))]
#[post("/trials/{trial}/screenings")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    // Refuse a role that may not screen before reading what it sent.
    user.0.require_permission(Permission::Screen)?;
    let (raw, shape) = crate::fields::parse_json_all::<RawScreening>(&body.0)?;
    if !shape.is_empty() {
        let today = crate::service::now().date();
        return Err(screening::all_errors(&t.protocol, &raw, shape, today).into());
    }
    let key = idempotency_key(&req)?;
    let out = run_db(&state, move |c| {
        screening::record_once(c, &t, &user.0, &raw, key.as_deref())
    })
    .await?;
    let s = out.screening;
    let mut response = HttpResponse::Created();
    response.insert_header((
        "Location",
        format!("/api/v1/trials/{}/screenings/{}", s.trial, s.id),
    ));
    if out.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(s))
}

/// One screening.
#[utoipa::path(get, operation_id = "getScreening", tag = "screenings",
    params(("trial" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ScreeningView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/screenings/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (trial_id, id) = path.into_inner();
    let t = trial(&state, &trial_id)?;
    let out = run_db(&state, move |c| queries::get_screening(c, &t, &user.0, &id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// eligible, ineligible or incomplete
    pub outcome: Option<String>,
    /// false: not yet randomized (the pharmacist's queue)
    pub randomized: Option<bool>,
    pub site: Option<String>,
    pub patient_ref: Option<String>,
    /// At most 1000 (default 1000).
    pub limit: Option<i64>,
}

/// Each patient's latest screening, newest first: `?outcome=eligible&randomized=false` is
/// the queue awaiting randomization. Site-limited users see their sites only.
#[utoipa::path(get, operation_id = "listScreenings", tag = "screenings",
    params(("trial" = String, Path), ListQuery),
    responses((status = 200, body = [ScreeningView]), (status = 400, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/screenings")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let q = query.into_inner();
    let filter = ScreeningFilter {
        outcome: q.outcome,
        randomized: q.randomized,
        site: q.site,
        patient_ref: q.patient_ref,
        limit: q.limit.unwrap_or(MAX_LIMIT),
    };
    let out = run_db(&state, move |c| {
        queries::list_screenings(c, &t, &user.0, &filter)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}
