//! Prometheus metrics: requests, latencies, allocations, refusals, failed authentications.
//! Labels never carry an arm: per-arm counts in real time would help predict allocations.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub allocations: IntCounterVec,
    pub refusals: IntCounterVec,
    pub auth_failures: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "trialgate_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "trialgate_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let allocations = IntCounterVec::new(
            Opts::new("trialgate_allocations_total", "Patients randomized"),
            &["trial"],
        )?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "trialgate_refusals_total",
                "Requests refused, by problem code",
            ),
            &["code"],
        )?;
        let auth_failures = IntCounter::new(
            "trialgate_auth_failures_total",
            "Requests with a missing, unknown or revoked token",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(allocations.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            allocations,
            refusals,
            auth_failures,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
