use actix_web::{get, web, HttpResponse};

use crate::http::extract::run_db;
use crate::http::schemas::{Health, OpenApiDocument};
use crate::http::state::AppState;

/// Liveness and database reachability.
#[utoipa::path(get, operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "Up, database reachable", body = Health),
        (status = 503, description = "database unreachable", body = Health)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match run_db(&state, crate::storage::ping).await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ok",
            database: "ok",
        }),
        Err(_) => HttpResponse::ServiceUnavailable().json(Health {
            status: "unavailable",
            database: "unreachable",
        }),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This document.
#[utoipa::path(get, operation_id = "openapi", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = OpenApiDocument)))]
#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::http::openapi_document())
}
