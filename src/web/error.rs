//! Errors of the pages, answered as HTML pages (never a stack trace, never JSON): a missing
//! or expired session sends the browser to the sign-in page; a refused CSRF token is a 403
//! page; every use-case error is a page with its status, title and public detail.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use maud::html;

use super::templates;
use super::viewer::{self, Viewer};
use crate::http::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No live session: to the sign-in page (the stale cookie is removed).
    #[error("sign in first")]
    SignIn,
    /// A form POST without this session's CSRF token.
    #[error("the form's security token is missing or wrong")]
    Csrf { viewer: Option<Box<Viewer>> },
    /// A use case refused or failed.
    #[error("{error}")]
    Page {
        error: ApiError,
        viewer: Option<Box<Viewer>>,
    },
}

impl WebError {
    pub fn bad_request(detail: String) -> Self {
        WebError::Page {
            error: ApiError::Malformed(detail),
            viewer: None,
        }
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        WebError::Page {
            error,
            viewer: None,
        }
    }
}

/// The HTML 404 page for browsers (unknown addresses outside the API).
pub fn not_found_page() -> HttpResponse {
    WebError::from(ApiError::NotFound(
        "there is no page at this address".into(),
    ))
    .error_response()
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn => StatusCode::SEE_OTHER,
            WebError::Csrf { .. } => StatusCode::FORBIDDEN,
            WebError::Page { error, .. } => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::SignIn => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/signin"))
                .cookie(viewer::removal_cookie())
                .finish(),
            WebError::Csrf { viewer } => {
                let viewer = viewer.as_deref();
                let body = html! {
                    h1 { "This form cannot be accepted" }
                    p { "The form's security token is missing, wrong or from an older sign-in, so nothing was changed. "
                        "Go back, reload the page and submit it again." }
                    p { a href=(home(viewer)) { "Go to your home page" } }
                };
                templates::respond(
                    StatusCode::FORBIDDEN,
                    templates::page("Form refused", viewer, None, body),
                )
            }
            WebError::Page { error, viewer } => {
                match error {
                    ApiError::Internal(error) => tracing::error!(
                        detail = %crate::service::error::chain(error),
                        location = %error.location(),
                        "internal error"
                    ),
                    ApiError::Unavailable => tracing::warn!("answered 503: database unavailable"),
                    _ => {}
                }
                let viewer = viewer.as_deref();
                let mut response =
                    templates::respond(self.status_code(), error_page(error, viewer));
                if let Some(seconds) = error.retry_after() {
                    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
                        response.headers_mut().insert(header::RETRY_AFTER, value);
                    }
                }
                response
            }
        }
    }
}

fn home(viewer: Option<&Viewer>) -> String {
    viewer.map_or_else(|| "/".to_string(), Viewer::home)
}

fn error_page(error: &ApiError, viewer: Option<&Viewer>) -> maud::Markup {
    let body = html! {
        @match error {
            ApiError::Forbidden(detail) => {
                h1 { "Not allowed" }
                @if let Some(v) = viewer {
                    p { "You are signed in as " strong { (v.user.name) } " (" (v.user.role.as_str()) "). "
                        "Your role or sites do not allow this page or action." }
                }
                p.detail { (detail) }
            }
            ApiError::NotFound(detail) => {
                h1 { "Not found" }
                p.detail { (detail) }
            }
            ApiError::Validation(errors) => {
                h1 { "Please correct the request" }
                ul.errors { @for e in errors { li { code { (e.field) } " " (e.message) } } }
            }
            other => {
                h1 { (other.title()) }
                p.detail { (other.public_detail()) }
            }
        }
        p { a href=(home(viewer)) { "Go to your home page" } }
    };
    let title = match error {
        ApiError::Forbidden(_) => "Not allowed",
        other => other.title(),
    };
    templates::page(title, viewer, None, body)
}
