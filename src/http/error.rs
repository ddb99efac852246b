//! [`ApiError`]: every answer that is not a success, with its stable problem code (the
//! contract in docs/api.md), HTTP status and title. This is the one place where the use cases'
//! error enums become statuses: each converts here, and the web pages answer with the same
//! status and title.
//!
//! A database that is down or a pool that is exhausted becomes `Unavailable` (503); every
//! other storage or internal failure `Internal` (500, logged with its causes, never shown).

use crate::fields::{FieldError, InputError};
use crate::service::allocation::AllocationError;
use crate::service::corrections::CorrectionError;
use crate::service::error::{Internal, Invalid, NotFound, TrialClosed};
use crate::service::queries::QueryError;
use crate::service::screening::ScreeningError;
use crate::service::sites::SiteError;
use crate::service::trials::TrialError;
use crate::service::users::UserError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
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
    #[error("patient is already randomized as subject {subject_id}{}", .hint.unwrap_or(""))]
    AlreadyRandomized {
        subject_id: String,
        /// What to do instead, when there is something.
        hint: Option<&'static str>,
    },
    #[error("screening {0} is not the patient's latest screening")]
    StaleScreening(String),
    #[error("{0}")]
    ScreeningExpired(String),
    #[error("enrollment is closed: the cap of {cap} randomized subjects is reached")]
    EnrollmentClosed { cap: i64 },
    #[error("trial {0} is closed")]
    TrialClosed(String),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyConflict,
    #[error("{0}")]
    CorrectionPending(String),
    #[error("{0}")]
    NotPending(String),
    #[error("{0}")]
    SiteExists(String),
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
    /// Logged with its causes and where it arose, never sent.
    #[error("internal error: {0}")]
    Internal(#[source] Internal),
}

impl ApiError {
    /// An internal failure made at the edge, located where this is called.
    #[track_caller]
    pub fn internal(what: impl std::fmt::Display) -> Self {
        ApiError::Internal(Internal::new(what.to_string()))
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Validation(_) => "validation_failed",
            ApiError::AlreadyWithdrawn(_) => "already_withdrawn",
            ApiError::NotEligible(_) => "not_eligible",
            ApiError::AlreadyRandomized { .. } => "already_randomized",
            ApiError::StaleScreening(_) => "stale_screening",
            ApiError::ScreeningExpired(_) => "screening_expired",
            ApiError::EnrollmentClosed { .. } => "enrollment_closed",
            ApiError::TrialClosed(_) => "trial_closed",
            ApiError::IdempotencyConflict => "idempotency_conflict",
            ApiError::CorrectionPending(_) => "correction_pending",
            ApiError::NotPending(_) => "not_pending",
            ApiError::SiteExists(_) => "site_exists",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::SeedUnavailable(_) => "seed_unavailable",
            ApiError::Unavailable => "service_unavailable",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Malformed(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Validation(_) | ApiError::IdempotencyConflict => 422,
            ApiError::AlreadyWithdrawn(_)
            | ApiError::NotEligible(_)
            | ApiError::AlreadyRandomized { .. }
            | ApiError::StaleScreening(_)
            | ApiError::ScreeningExpired(_)
            | ApiError::EnrollmentClosed { .. }
            | ApiError::CorrectionPending(_)
            | ApiError::NotPending(_)
            | ApiError::SiteExists(_)
            | ApiError::TrialClosed(_) => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::SeedUnavailable(_) | ApiError::Unavailable => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "Malformed request",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not found",
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::Validation(_) => "Validation failed",
            ApiError::AlreadyWithdrawn(_) => "Already withdrawn",
            ApiError::NotEligible(_) => "Not eligible",
            ApiError::AlreadyRandomized { .. } => "Already randomized",
            ApiError::StaleScreening(_) => "Stale screening",
            ApiError::ScreeningExpired(_) => "Screening expired",
            ApiError::EnrollmentClosed { .. } => "Enrollment closed",
            ApiError::TrialClosed(_) => "Trial closed",
            ApiError::IdempotencyConflict => "Idempotency conflict",
            ApiError::CorrectionPending(_) => "Correction pending",
            ApiError::NotPending(_) => "Not pending",
            ApiError::SiteExists(_) => "Site exists",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::SeedUnavailable(_) => "Seed unavailable",
            ApiError::Unavailable => "Service unavailable",
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::Internal(_) => "Internal error",
        }
    }

    /// The detail a client may see: never internals.
    pub fn public_detail(&self) -> String {
        match self {
            ApiError::Internal(_) => "an internal error occurred; it has been logged".into(),
            other => other.to_string(),
        }
    }

    /// Whole seconds for a `Retry-After` header, on the refusals that are worth retrying.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests { retry_after } => Some((*retry_after).max(1)),
            ApiError::Unavailable | ApiError::SeedUnavailable(_) => Some(1),
            _ => None,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable
        } else {
            ApiError::Internal(Internal::caused("storage", e))
        }
    }
}

impl From<Internal> for ApiError {
    fn from(e: Internal) -> Self {
        ApiError::Internal(e)
    }
}

impl From<crate::access::AccessDenied> for ApiError {
    fn from(denied: crate::access::AccessDenied) -> Self {
        ApiError::Forbidden(denied.0)
    }
}

impl From<NotFound> for ApiError {
    fn from(e: NotFound) -> Self {
        ApiError::NotFound(e.to_string())
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Validation(e.0)
    }
}

impl From<TrialClosed> for ApiError {
    fn from(e: TrialClosed) -> Self {
        ApiError::TrialClosed(e.0)
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Malformed(m) => ApiError::Malformed(m),
            InputError::Invalid(errors) => ApiError::Validation(errors),
        }
    }
}

impl From<ScreeningError> for ApiError {
    fn from(e: ScreeningError) -> Self {
        match e {
            ScreeningError::Denied(e) => e.into(),
            ScreeningError::NotFound(e) => e.into(),
            ScreeningError::Invalid(e) => e.into(),
            ScreeningError::TrialClosed(e) => e.into(),
            ScreeningError::AlreadyRandomized { subject_id } => ApiError::AlreadyRandomized {
                subject_id,
                hint: Some(": correct the patient's screening instead of screening again"),
            },
            ScreeningError::IdempotencyConflict => ApiError::IdempotencyConflict,
            ScreeningError::Storage(e) => e.into(),
            ScreeningError::Internal(e) => e.into(),
        }
    }
}

impl From<AllocationError> for ApiError {
    fn from(e: AllocationError) -> Self {
        match e {
            AllocationError::Denied(e) => e.into(),
            AllocationError::NotFound(e) => e.into(),
            AllocationError::Invalid(e) => e.into(),
            e @ AllocationError::NotEligible { .. } => ApiError::NotEligible(e.to_string()),
            AllocationError::AlreadyRandomized { subject_id } => ApiError::AlreadyRandomized {
                subject_id,
                hint: None,
            },
            AllocationError::StaleScreening(id) => ApiError::StaleScreening(id),
            e @ AllocationError::ScreeningExpired { .. } => {
                ApiError::ScreeningExpired(e.to_string())
            }
            AllocationError::EnrollmentClosed { cap } => ApiError::EnrollmentClosed { cap },
            AllocationError::TrialClosed(e) => e.into(),
            AllocationError::AlreadyWithdrawn(id) => ApiError::AlreadyWithdrawn(id),
            AllocationError::IdempotencyConflict => ApiError::IdempotencyConflict,
            AllocationError::SeedUnavailable(trial) => ApiError::SeedUnavailable(trial),
            AllocationError::Storage(e) => e.into(),
            AllocationError::Internal(e) => e.into(),
        }
    }
}

impl From<CorrectionError> for ApiError {
    fn from(e: CorrectionError) -> Self {
        match e {
            CorrectionError::Denied(e) => e.into(),
            CorrectionError::NotFound(e) => e.into(),
            CorrectionError::Invalid(e) => e.into(),
            CorrectionError::TrialClosed(e) => e.into(),
            CorrectionError::StaleScreening(id) => ApiError::StaleScreening(id),
            e @ CorrectionError::CorrectionPending(_) => ApiError::CorrectionPending(e.to_string()),
            e @ CorrectionError::NotPending(_) => ApiError::NotPending(e.to_string()),
            e @ CorrectionError::OwnCorrection(_) => ApiError::Forbidden(e.to_string()),
            CorrectionError::Storage(e) => e.into(),
            CorrectionError::Internal(e) => e.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Denied(e) => e.into(),
            QueryError::NotFound(e) => e.into(),
            QueryError::Invalid(e) => e.into(),
            QueryError::Storage(e) => e.into(),
            QueryError::Internal(e) => e.into(),
        }
    }
}

impl From<TrialError> for ApiError {
    fn from(e: TrialError) -> Self {
        match e {
            TrialError::Denied(e) => e.into(),
            TrialError::NotFound(e) => e.into(),
            TrialError::Invalid(e) => e.into(),
            TrialError::TrialClosed(e) => e.into(),
            TrialError::SeedUnavailable(trial) => ApiError::SeedUnavailable(trial),
            TrialError::Storage(e) => e.into(),
            TrialError::Internal(e) => e.into(),
            TrialError::Query(e) => e.into(),
        }
    }
}

impl From<SiteError> for ApiError {
    fn from(e: SiteError) -> Self {
        match e {
            SiteError::Denied(e) => e.into(),
            SiteError::NotFound(e) => e.into(),
            SiteError::Invalid(e) => e.into(),
            e @ SiteError::Exists(_) => ApiError::SiteExists(e.to_string()),
            SiteError::Storage(e) => e.into(),
            SiteError::Internal(e) => e.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Denied(e) => e.into(),
            UserError::NotFound(e) => e.into(),
            UserError::Invalid(e) => e.into(),
            UserError::Unauthenticated | UserError::AlreadyActivated => ApiError::Unauthorized,
            UserError::Storage(e) => e.into(),
            UserError::Internal(e) => e.into(),
        }
    }
}
