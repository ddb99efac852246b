//! The errors a use case can end in. Each has a stable problem code (the API contract of
//! api.md); the HTTP layer only maps them to statuses and problem bodies.
//!
//! Use [`AppError`] in services and handlers. Storage code returns `StorageError`, which
//! converts into `AppError::Unavailable` (database down, pool exhausted) or
//! `AppError::Internal` (everything else, logged, never shown to clients).

use crate::eligibility::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Malformed(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    #[error("subject {0} is already withdrawn")]
    AlreadyWithdrawn(String),
    #[error("{0}")]
    NotEligible(String),
    #[error("patient is already randomized as subject {subject_id}")]
    AlreadyRandomized { subject_id: String },
    #[error("screening {0} is not the patient's latest screening")]
    StaleScreening(String),
    #[error("enrollment is closed: the cap of {cap} randomized subjects is reached")]
    EnrollmentClosed { cap: i64 },
    #[error("trial {0} is closed")]
    TrialClosed(String),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyConflict,
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("randomization of trial {0} is unavailable: its seed file is missing or does not match the recorded commitment")]
    SeedUnavailable(String),
    #[error("the service is temporarily unavailable; retry later")]
    Unavailable,
    #[error("too many failed authentication attempts; retry in {retry_after} s")]
    TooManyRequests {
        /// Seconds until the address may try again (`Retry-After`).
        retry_after: u64,
    },
    /// The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Malformed(_) => "malformed_request",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Validation(_) => "validation_failed",
            AppError::AlreadyWithdrawn(_) => "already_withdrawn",
            AppError::NotEligible(_) => "not_eligible",
            AppError::AlreadyRandomized { .. } => "already_randomized",
            AppError::StaleScreening(_) => "stale_screening",
            AppError::EnrollmentClosed { .. } => "enrollment_closed",
            AppError::TrialClosed(_) => "trial_closed",
            AppError::IdempotencyConflict => "idempotency_conflict",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::SeedUnavailable(_) => "seed_unavailable",
            AppError::Unavailable => "service_unavailable",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Malformed(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::MethodNotAllowed => 405,
            AppError::Validation(_) | AppError::IdempotencyConflict => 422,
            AppError::AlreadyWithdrawn(_)
            | AppError::NotEligible(_)
            | AppError::AlreadyRandomized { .. }
            | AppError::StaleScreening(_)
            | AppError::EnrollmentClosed { .. }
            | AppError::TrialClosed(_) => 409,
            AppError::PayloadTooLarge { .. } => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::TooManyRequests { .. } => 429,
            AppError::SeedUnavailable(_) | AppError::Unavailable => 503,
            AppError::Internal(_) => 500,
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            AppError::Malformed(_) => "Malformed request",
            AppError::Unauthorized => "Unauthorized",
            AppError::Forbidden(_) => "Forbidden",
            AppError::NotFound(_) => "Not found",
            AppError::MethodNotAllowed => "Method not allowed",
            AppError::Validation(_) => "Validation failed",
            AppError::AlreadyWithdrawn(_) => "Already withdrawn",
            AppError::NotEligible(_) => "Not eligible",
            AppError::AlreadyRandomized { .. } => "Already randomized",
            AppError::StaleScreening(_) => "Stale screening",
            AppError::EnrollmentClosed { .. } => "Enrollment closed",
            AppError::TrialClosed(_) => "Trial closed",
            AppError::IdempotencyConflict => "Idempotency conflict",
            AppError::PayloadTooLarge { .. } => "Payload too large",
            AppError::UnsupportedMediaType(_) => "Unsupported media type",
            AppError::SeedUnavailable(_) => "Seed unavailable",
            AppError::Unavailable => "Service unavailable",
            AppError::TooManyRequests { .. } => "Too many requests",
            AppError::Internal(_) => "Internal error",
        }
    }

    /// The detail a client may see: never internals.
    pub fn public_detail(&self) -> String {
        match self {
            AppError::Internal(_) => "an internal error occurred; it has been logged".into(),
            other => other.to_string(),
        }
    }

    /// Whole seconds for a `Retry-After` header, on the refusals that are worth retrying.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests { retry_after } => Some((*retry_after).max(1)),
            AppError::Unavailable | AppError::SeedUnavailable(_) => Some(1),
            _ => None,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<crate::storage::StorageError> for AppError {
    fn from(e: crate::storage::StorageError) -> Self {
        if e.is_unavailable() {
            AppError::Unavailable
        } else {
            AppError::Internal(e.to_string())
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        crate::storage::StorageError::from(e).into()
    }
}

impl From<crate::access::AccessDenied> for AppError {
    fn from(denied: crate::access::AccessDenied) -> Self {
        AppError::Forbidden(denied.0)
    }
}
