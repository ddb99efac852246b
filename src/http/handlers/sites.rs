use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;

use crate::access::Permission;
use crate::http::error::ApiError;
use crate::http::extract::{parse_json, run_db, AuthUser, JsonBytes};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::sites;
use crate::service::views::SiteView;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSiteRequest {
    /// 1–64 letters, digits, `-`, `_` or `.`: what screenings and users name, e.g. `SITE01`.
    pub code: String,
    /// Any script, 1–200 characters, e.g. `北京协和医院`.
    pub name: String,
    /// IANA time zone name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    #[serde(default)]
    pub email: Option<String>,
}

impl crate::fields::JsonRequest for NewSiteRequest {}

/// Register a site (audited `site.created`).
#[utoipa::path(post, operation_id = "createSite", tag = "sites",
    request_body = NewSiteRequest,
    responses((status = 201, body = SiteView), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "site_exists"), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/sites")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    user.0.require_permission(Permission::ManageSites)?;
    let req: NewSiteRequest = parse_json(&body.0)?;
    let new = sites::NewSite {
        code: req.code,
        name: req.name,
        time_zone: req.time_zone,
        email: req.email,
    };
    let out = run_db(&state, move |c| sites::create(c, &user.0, &new)).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/sites/{}", out.code)))
        .json(out))
}

/// Every registered site (any role).
#[utoipa::path(get, operation_id = "listSites", tag = "sites",
    responses((status = 200, body = [SiteView]), (status = 401, body = Problem)),
    security(("bearer" = [])))]
#[get("/sites")]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let out = run_db(&state, move |c| sites::list(c, &user.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// `null` given for a field (clear it) as `Some(None)`, apart from absent (`None`).
fn given<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteChangeRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// IANA time zone name; the site's users read times in it from their next request.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

impl crate::fields::JsonRequest for SiteChangeRequest {}

/// Change a site's name, time zone or e-mail (audited `site.changed` with old and new values).
#[utoipa::path(patch, operation_id = "changeSite", tag = "sites",
    params(("code" = String, Path)),
    request_body = SiteChangeRequest,
    responses((status = 200, body = SiteView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[patch("/sites/{code}")]
pub async fn change(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    user.0.require_permission(Permission::ManageSites)?;
    let code = path.into_inner();
    let req: SiteChangeRequest = parse_json(&body.0)?;
    let change = sites::SiteChange {
        name: req.name,
        time_zone: req.time_zone,
        email: req.email,
    };
    let out = run_db(&state, move |c| sites::change(c, &user.0, &code, &change)).await?;
    Ok(HttpResponse::Ok().json(out))
}
