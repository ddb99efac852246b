//! Corrections of screenings, a monitor's decision on them, and the deviations they reveal.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::trial;
use crate::access::Permission;
use crate::http::error::ApiError;
use crate::http::extract::{parse_json, run_db, AuthUser, JsonBytes};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::corrections::{
    self, CorrectionRequest, CorrectionView, DecisionRequest, DeviationView,
};
use crate::service::views::ScreeningView;

/// Correct a screening (the patient's latest): a new screening with the changes applied to
/// what was submitted. Before randomization it is `applied` at once; after, it is `pending`
/// until a monitor decides, and the subject keeps arm and stratum.
#[utoipa::path(post, operation_id = "correctScreening", tag = "screenings",
    params(("trial" = String, Path), ("id" = String, Path, description = "the screening corrected")),
    request_body = CorrectionRequest,
    responses((status = 201, body = ScreeningView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "stale_screening, correction_pending"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/trials/{trial}/screenings/{id}/corrections")]
pub async fn correct(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let (trial_id, id) = path.into_inner();
    let t = trial(&state, &trial_id)?;
    user.0.require_permission(Permission::Correct)?;
    let request: CorrectionRequest = parse_json(&body.0)?;
    let out = run_db(&state, move |c| {
        corrections::correct(c, &t, &user.0, &id, &request)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/trials/{}/screenings/{}", out.trial, out.id),
        ))
        .json(out))
}

/// Approve or reject a pending correction ({id}: the correcting screening). Never the
/// corrector's own. Approval records the deviations it reveals.
#[utoipa::path(post, operation_id = "decideCorrection", tag = "monitoring",
    params(("trial" = String, Path), ("id" = String, Path, description = "the correcting screening")),
    request_body = DecisionRequest,
    responses((status = 200, body = ScreeningView), (status = 403, body = Problem, description = "forbidden, also for one's own correction"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "not_pending"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/trials/{trial}/corrections/{id}/approval")]
pub async fn decide(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let (trial_id, id) = path.into_inner();
    let t = trial(&state, &trial_id)?;
    user.0.require_permission(Permission::ReviewCorrections)?;
    let request: DecisionRequest = parse_json(&body.0)?;
    let out = run_db(&state, move |c| {
        corrections::decide(c, &t, &user.0, &id, &request, None)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CorrectionsQuery {
    /// `pending` (default): waiting for a decision; `all`: decided ones too.
    #[param(inline)]
    pub status: Option<CorrectionsShown>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionsShown {
    Pending,
    All,
}

/// Corrections of randomized patients, oldest first, with old → new values: the monitor's
/// approvals queue. Site-limited monitors see their sites.
#[utoipa::path(get, operation_id = "listCorrections", tag = "monitoring",
    params(("trial" = String, Path), CorrectionsQuery),
    responses((status = 200, body = [CorrectionView]), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/corrections")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<CorrectionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let decided = query.status == Some(CorrectionsShown::All);
    let out = run_db(&state, move |c| {
        corrections::list_corrections(c, &t, &user.0, decided)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Protocol deviations recorded by approved corrections (monitors).
#[utoipa::path(get, operation_id = "listDeviations", tag = "monitoring",
    params(("trial" = String, Path)),
    responses((status = 200, body = [DeviationView]), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/trials/{trial}/deviations")]
pub async fn deviations(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = trial(&state, &path)?;
    let out = run_db(&state, move |c| {
        corrections::list_deviations(c, &t, &user.0)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}
