//! The HTTP API of api.md on actix-web: routes, problem bodies, metrics and logging.

pub mod auth_limit;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod metrics;
pub mod observe;
pub mod problem;
pub mod schemas;
pub mod state;

use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::error::ApiError;
use handlers::{audit, corrections, log, ops, screenings, sites, subjects, trials, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "trialgate",
        description = "Randomization and enrollment API (api.md)"
    ),
    components(schemas(problem::Problem))
)]
struct ApiBase;

/// The OpenAPI document, collected from the very `service(…)` calls that register the
/// routes ([`routes`]), so no route can exist undocumented — the access tests iterate it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        use utoipa_actix_web::AppExt;
        let (_, mut api) = actix_web::App::new()
            .into_utoipa_app()
            .openapi(ApiBase::openapi())
            .configure(routes)
            .split_for_parts();
        BearerAuth.modify(&mut api);
        ProblemResponses.modify(&mut api);
        api
    })
    .clone()
}

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

/// Documents the refusals every operation can answer with, all as
/// `application/problem+json` bodies (RFC 9457), so clients and schema-driven testers see
/// the whole contract.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build()
        };
        let common: [(&str, &str); 7] = [
            ("400", "malformed_request: unparseable JSON or query string"),
            ("404", "not_found"),
            ("405", "method_not_allowed"),
            ("413", "payload_too_large"),
            ("415", "unsupported_media_type"),
            ("500", "internal (nothing internal is revealed)"),
            ("503", "service_unavailable (database) or seed_unavailable"),
        ];
        let authenticated: [(&str, &str); 4] = [
            ("401", "unauthorized: missing, unknown or revoked token"),
            ("403", "forbidden: role or site"),
            ("422", "validation_failed"),
            ("429", "too_many_requests: too many failed authentications; Retry-After gives the seconds to wait"),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            let secured = path.starts_with("/api/v1/") && path != "/api/v1/openapi.json";
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let extra = common.iter().chain(if secured {
                    authenticated.iter()
                } else {
                    [].iter()
                });
                for (status, description) in extra {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(*description)
                                .content("application/problem+json", problem())
                                .build()
                                .into()
                        });
                }
                // Error bodies declared with `body = Problem` are problem+json, not json (the
                // 503 of /healthz is a plain JSON body).
                let problem_ref = utoipa::openapi::RefOr::Ref(Ref::from_schema_name("Problem"));
                for (status, response) in op.responses.responses.iter_mut() {
                    if status.as_str() >= "400" {
                        if let utoipa::openapi::RefOr::T(r) = response {
                            let is_problem = r
                                .content
                                .get("application/json")
                                .is_some_and(|c| c.schema.as_ref() == Some(&problem_ref));
                            if is_problem {
                                if let Some(c) = r.content.shift_remove("application/json") {
                                    r.content.insert("application/problem+json".to_string(), c);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Registers every route of the API, with the extractor error handlers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::Malformed(format!("query string: {e}")).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| ApiError::Malformed(format!("path: {e}")).into()),
    );
    routes(&mut utoipa_actix_web::service_config::ServiceConfig::new(
        cfg,
    ));
}

/// The route table: every handler, registered and documented in one place.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(
            utoipa_actix_web::scope("/api/v1")
                .service(ops::openapi)
                .service(trials::list)
                .service(trials::detail)
                .service(trials::close)
                .service(trials::amend)
                .service(screenings::create)
                .service(screenings::list)
                .service(screenings::get)
                .service(corrections::correct)
                .service(corrections::decide)
                .service(corrections::list)
                .service(corrections::deviations)
                .service(subjects::randomize)
                .service(subjects::list)
                .service(subjects::get)
                .service(subjects::withdraw)
                .service(subjects::balance)
                .service(audit::entries)
                .service(audit::head)
                .service(audit::checkpoint)
                .service(audit::verify)
                .service(audit::export)
                .service(log::checkpoint)
                .service(log::consistency)
                .service(log::inclusion)
                .service(log::receipt)
                .service(users::create)
                .service(users::list)
                .service(users::access_review)
                .service(users::change)
                .service(users::issue_token)
                .service(users::revoke)
                .service(sites::create)
                .service(sites::list)
                .service(sites::change),
        );
}

/// Any route that matches nothing, as the API answers it: a problem body.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such resource".into()))
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
        // The probes' 503 bodies say what is wrong, in their own documented shape.
        let is_probe = matches!(res.request().path(), "/healthz" | "/readyz");
        if is_problem || is_probe {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let error = match status.as_u16() {
            404 => ApiError::NotFound("no such resource".into()),
            405 => ApiError::MethodNotAllowed,
            413 => ApiError::PayloadTooLarge {
                limit: extract::BODY_LIMIT,
            },
            415 => ApiError::UnsupportedMediaType("unsupported content type".into()),
            400..=499 => ApiError::Malformed(
                status
                    .canonical_reason()
                    .unwrap_or("bad request")
                    .to_string(),
            ),
            503 => ApiError::Unavailable,
            _ => ApiError::internal(format!("{status} without a problem body")),
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
