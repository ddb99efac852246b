//! The request middleware: metrics per route and problem code, one log line per request.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use tracing::Instrument;

use super::problem::ProblemCode;
use super::state::AppState;

/// Middleware: counts and times every request by route, counts refusals by problem code, and
/// writes one structured log line per request (never the Authorization header).
pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let (start, method, route) = super::observe(&req);
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    // Every log line of the request — the use case's included (run_db carries the span onto
    // the blocking pool) — names this id; the response returns it for support tickets.
    let request_id = uuid::Uuid::now_v7().simple().to_string();
    let span = tracing::info_span!("request", id = %request_id, %method, %route);
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    let _entered = span.enter();
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    if let Some(m) = metrics {
        m.requests
            .with_label_values(&[&method, &route, &status.to_string()])
            .inc();
        m.latency
            .with_label_values(&[&method, &route])
            .observe(elapsed.as_secs_f64());
        if status >= 400 {
            if let Some(code) = res.response().extensions().get::<ProblemCode>() {
                m.refusals.with_label_values(&[code.0]).inc();
            }
        }
    }
    tracing::info!(%method, %route, status, micros = elapsed.as_micros() as u64, "request");
    Ok(res)
}
