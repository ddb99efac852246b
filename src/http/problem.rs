//! RFC 9457 problem bodies for every refusal.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::eligibility::FieldError;

/// The problem code of an error response, kept in its extensions for the refusal metric.
#[derive(Clone, Copy)]
pub struct ProblemCode(pub &'static str);
use crate::http::error::ApiError;

/// `application/problem+json` body (RFC 9457) with trialgate's stable `code`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:trialgate:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `not_eligible`.
    pub code: String,
    /// Field errors (422 `validation_failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The existing subject (409 `already_randomized` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
}

impl Problem {
    pub fn from_error(e: &ApiError) -> Self {
        Problem {
            kind: format!("urn:trialgate:problem:{}", e.code()),
            title: e.title().to_string(),
            status: e.status(),
            detail: e.public_detail(),
            code: e.code().to_string(),
            errors: match e {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            subject_id: match e {
                ApiError::AlreadyRandomized { subject_id, .. } => Some(subject_id.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(error) => tracing::error!(
                detail = %crate::service::error::chain(error),
                location = %error.location(),
                "internal error"
            ),
            ApiError::Unavailable => tracing::warn!("answered 503: database unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if matches!(self, ApiError::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        let mut response =
            response.body(serde_json::to_string(&Problem::from_error(self)).unwrap_or_default());
        // Read by the metrics middleware to count refusals by code.
        response.extensions_mut().insert(ProblemCode(self.code()));
        response
    }
}
