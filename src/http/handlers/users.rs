use actix_web::{delete, post, web, HttpResponse};
use serde::Deserialize;

use crate::access::Permission;
use crate::http::error::ApiError;
use crate::http::extract::{parse_json, run_db, AuthUser, JsonBytes};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::users;
use crate::service::views::{CreatedUser, RevokedUser};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub name: String,
    /// admin, investigator, pharmacist or monitor
    pub role: String,
    /// Sites the user is limited to; absent or empty: all sites.
    #[serde(default)]
    pub sites: Option<Vec<String>>,
}

impl crate::fields::JsonRequest for NewUserRequest {
    const ARRAY_FIELDS: &'static [&'static str] = &["sites"];
}

/// Create a user; the token is in this response only.
#[utoipa::path(post, operation_id = "createUser", tag = "users",
    request_body = NewUserRequest,
    responses((status = 201, body = CreatedUser), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/users")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    user.0.require_permission(Permission::ManageUsers)?;
    let req: NewUserRequest = parse_json(&body.0)?;
    let out = run_db(&state, move |c| {
        users::create(
            c,
            &user.0,
            &req.name,
            &req.role,
            &req.sites.unwrap_or_default(),
        )
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(out))
}

/// Revoke every token of a user.
#[utoipa::path(delete, operation_id = "revokeUser", tag = "users",
    params(("name" = String, Path)),
    responses((status = 200, body = RevokedUser), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[delete("/users/{name}")]
pub async fn revoke(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let out = run_db(&state, move |c| users::revoke(c, &user.0, &name)).await?;
    Ok(HttpResponse::Ok().json(out))
}
