//! The HTTP API of api.md on actix-web: routes, problem bodies, metrics and logging.

pub mod extract;
pub mod handlers;
pub mod metrics;
pub mod problem;
pub mod state;

use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::AppError;
use handlers::{audit, ops, screenings, subjects, trials, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "trialgate", description = "Randomization and enrollment API (api.md)"),
    paths(
        ops::healthz, ops::metrics, ops::openapi,
        trials::list, trials::detail, trials::close,
        screenings::create, screenings::get, screenings::list,
        subjects::randomize, subjects::list, subjects::get, subjects::withdraw, subjects::balance,
        audit::entries, audit::head, audit::verify, audit::export,
        users::create, users::revoke,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| AppError::Malformed(format!("query string: {e}")).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| AppError::Malformed(format!("path: {e}")).into()),
    )
    .service(ops::healthz)
    .service(ops::metrics)
    .service(
        web::scope("/api/v1")
            .service(ops::openapi)
            .service(trials::list)
            .service(trials::detail)
            .service(trials::close)
            .service(screenings::create)
            .service(screenings::list)
            .service(screenings::get)
            .service(subjects::randomize)
            .service(subjects::list)
            .service(subjects::get)
            .service(subjects::withdraw)
            .service(subjects::balance)
            .service(audit::entries)
            .service(audit::head)
            .service(audit::verify)
            .service(audit::export)
            .service(users::create)
            .service(users::revoke),
    );
}

/// Any route that matches nothing: a problem body, or the HTML 404 page for a browser
/// asking for a page outside the API.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, AppError> {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && !req.path().starts_with("/api/") {
        return Ok(crate::web::not_found_page());
    }
    Err(AppError::NotFound("no such resource".into()))
}

/// Turns every error response that is not already a problem body (actix's own 404/405,
/// extractor failures) into one, so clients see a single error format. The web pages'
/// HTML error pages are left as they are.
pub fn problem_bodies<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let is_problem = content_type.starts_with("application/problem+json")
            || content_type.starts_with("text/html");
        if is_problem {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let error = match status.as_u16() {
            404 => AppError::NotFound("no such resource".into()),
            405 => AppError::MethodNotAllowed,
            413 => AppError::PayloadTooLarge {
                limit: extract::BODY_LIMIT,
            },
            415 => AppError::UnsupportedMediaType("unsupported content type".into()),
            400..=499 => AppError::Malformed(
                status
                    .canonical_reason()
                    .unwrap_or("bad request")
                    .to_string(),
            ),
            503 => AppError::Unavailable,
            _ => AppError::Internal(format!("{status} without a problem body")),
        };
        let (req, _) = res.into_parts();
        let response: HttpResponse<BoxBody> = actix_web::ResponseError::error_response(&error);
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, response)
                .map_into_right_body::<B>()
                .map_body(|_, b| match b {
                    EitherBody::Left { body } => EitherBody::left(body),
                    EitherBody::Right { body } => EitherBody::right(body),
                }),
        ))
    })
}

/// Request metrics and one structured log line per request (never the Authorization header).
pub fn observe(req: &ServiceRequest) -> (Instant, String, String) {
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    (Instant::now(), req.method().to_string(), route)
}
