use actix_web::{get, web, HttpResponse};

use crate::http::extract::run_db;
use crate::http::schemas::{Health, OpenApiDocument};
use crate::http::state::AppState;
use crate::service::readiness::{self, Readiness};

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

/// Readiness: 200 when every trial can be randomized and checkpoints are signed with the
/// database's key; 503 naming each problem otherwise (a load balancer sends no traffic).
#[utoipa::path(get, operation_id = "readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: each problem named", body = Readiness)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let trials = state.trials.clone();
    let key = state.checkpoint_key.verifying_key();
    match run_db(&state, move |c| readiness::readiness(c, &trials, &key)).await {
        Ok(r) if r.is_ready() => HttpResponse::Ok().json(r),
        Ok(r) => HttpResponse::ServiceUnavailable().json(r),
        Err(_) => HttpResponse::ServiceUnavailable().json(Readiness {
            status: "not_ready",
            problems: vec!["the database is unreachable".into()],
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
