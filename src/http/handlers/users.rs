use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;

use crate::access::Permission;
use crate::http::error::ApiError;
use crate::http::extract::{parse_json, run_db, AuthUser, JsonBytes};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::service::views::{AccessReviewRow, CreatedUser, IssuedToken, RevokedUser, UserSummary};
use crate::service::{credentials, users};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub name: String,
    /// admin, investigator, pharmacist or monitor
    pub role: String,
    /// Sites the user is limited to; absent or empty: all sites.
    #[serde(default)]
    pub sites: Option<Vec<String>>,
    /// The person's name, any script (e.g. 王丽): 1–200 characters.
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// When the account stops authenticating: `YYYY-MM-DD` (its start, UTC) or RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
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
    let profile = users::Profile {
        full_name: req.full_name,
        email: req.email,
        expires_at: req.expires_at,
    };
    let out = run_db(&state, move |c| {
        users::create_account(
            c,
            &user.0,
            &req.name,
            &req.role,
            &req.sites.unwrap_or_default(),
            &profile,
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

/// Every user with role, sites, status and expiry (never a token).
#[utoipa::path(get, operation_id = "listUsers", tag = "users",
    responses((status = 200, body = [UserSummary]), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/users")]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let out = run_db(&state, move |c| users::list(c, &user.0)).await?;
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
pub struct UserChangeRequest {
    /// admin, investigator, pharmacist or monitor
    #[serde(default)]
    pub role: Option<String>,
    /// The sites the user is limited to from their next request; `[]`: all sites.
    #[serde(default)]
    pub sites: Option<Vec<String>>,
    #[serde(default)]
    pub full_name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `YYYY-MM-DD` or RFC 3339; `null`: never expires.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
}

impl crate::fields::JsonRequest for UserChangeRequest {
    const ARRAY_FIELDS: &'static [&'static str] = &["sites"];
}

/// Change a user's role, sites, full name, e-mail or expiry (audited `user.changed` with old
/// and new values); it applies from the user's next request.
#[utoipa::path(patch, operation_id = "changeUser", tag = "users",
    params(("name" = String, Path)),
    request_body = UserChangeRequest,
    responses((status = 200, body = UserSummary), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[patch("/users/{name}")]
pub async fn change(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    user.0.require_permission(Permission::ManageUsers)?;
    let name = path.into_inner();
    let req: UserChangeRequest = parse_json(&body.0)?;
    let change = users::UserChange {
        role: req.role,
        sites: req.sites,
        full_name: req.full_name,
        email: req.email,
        expires_at: req.expires_at,
    };
    let out = run_db(&state, move |c| users::change(c, &user.0, &name, &change)).await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// `json` (default) or `csv` (formula-safe, for a spreadsheet).
    #[param(inline)]
    pub format: Option<ReviewFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFormat {
    Json,
    Csv,
}

/// The access review: every account, its role's permissions, its sites, status, last
/// activity and expiry.
#[utoipa::path(get, operation_id = "accessReview", tag = "users",
    params(ReviewQuery),
    responses((status = 200, description = "JSON, or CSV with `format=csv`",
        content((Vec<AccessReviewRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/users/access-review")]
pub async fn access_review(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ReviewQuery>,
) -> Result<HttpResponse, ApiError> {
    let rows = run_db(&state, move |c| users::access_review(c, &user.0)).await?;
    match query.format {
        Some(ReviewFormat::Csv) => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"access-review.csv\"",
            ))
            .body(users::access_review_csv(&rows)?)),
        _ => Ok(HttpResponse::Ok().json(rows)),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIssueRequest {
    /// When the token stops authenticating: `YYYY-MM-DD` (its start, UTC) or RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Revoke the user's other tokens (rotation).
    #[serde(default)]
    pub revoke_others: bool,
    /// Clear the user's password and end their browser sessions: the new token activates the
    /// account again (a forgotten password).
    #[serde(default)]
    pub reset_password: bool,
}

impl crate::fields::JsonRequest for TokenIssueRequest {}

/// Issue another token to a user (rotation, expiry, or a password reset); the token is in this
/// response only.
#[utoipa::path(post, operation_id = "issueToken", tag = "users",
    params(("name" = String, Path)),
    request_body = TokenIssueRequest,
    responses((status = 201, body = IssuedToken), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/users/{name}/tokens")]
pub async fn issue_token(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBytes,
) -> Result<HttpResponse, ApiError> {
    user.0.require_permission(Permission::ManageUsers)?;
    let name = path.into_inner();
    let req: TokenIssueRequest = if body.0.iter().all(u8::is_ascii_whitespace) {
        TokenIssueRequest::default()
    } else {
        parse_json(&body.0)?
    };
    let request = credentials::TokenRequest {
        expires_at: req.expires_at,
        revoke_others: req.revoke_others,
        reset_password: req.reset_password,
    };
    let out = run_db(&state, move |c| {
        credentials::issue_token(c, &user.0, &name, &request)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(out))
}
