use actix_web::{get, web, HttpResponse};

use crate::http::extract::run_db;
use crate::http::state::AppState;

/// Liveness and database reachability.
#[utoipa::path(get, tag = "operations",
    responses((status = 200, description = r#"{"status":"ok","database":"ok"}"#, body = Object),
        (status = 503, description = "database unreachable", body = Object)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    // A struct keeps api.md's field order (a `json!` map would sort it).
    #[derive(serde::Serialize)]
    struct Health {
        status: &'static str,
        database: &'static str,
    }
    match run_db(&state, |c| crate::storage::ping(c).map_err(Into::into)).await {
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
#[utoipa::path(get, tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This document.
#[utoipa::path(get, tag = "operations",
    responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::http::openapi_document())
}
