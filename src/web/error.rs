//! Errors of the pages, answered as HTML pages (never a stack trace, never JSON): a missing
//! or expired session sends the browser to the sign-in page; a refused CSRF token is a 403
//! page; every use-case error is a page with its status, title and public detail.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use maud::html;

use super::i18n::{t, ta, Lang};
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

/// The HTML 404 page for browsers (unknown addresses outside the API), in the request's
/// language.
pub fn not_found_page(req: &actix_web::HttpRequest) -> HttpResponse {
    WebError::from(ApiError::NotFound(
        "there is no page at this address".into(),
    ))
    .response_in(super::i18n::of_request(req))
}

impl WebError {
    /// Whether the error knows who is looking (and so their language).
    pub(super) fn has_viewer(&self) -> bool {
        match self {
            WebError::SignIn => false,
            WebError::Csrf { viewer } | WebError::Page { viewer, .. } => viewer.is_some(),
        }
    }

    /// The error's page in `lang` (the viewer's language wins when there is a viewer).
    pub fn response_in(&self, lang: Lang) -> HttpResponse {
        match self {
            WebError::SignIn => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/signin"))
                .cookie(viewer::removal_cookie())
                .finish(),
            WebError::Csrf { viewer } => {
                let viewer = viewer.as_deref();
                let lang = viewer.map_or(lang, |v| v.lang);
                let body = html! {
                    h1 { (t(lang, "csrf-title")) }
                    p { (t(lang, "csrf-explained")) }
                    p { a href=(home(viewer)) { (t(lang, "go-home")) } }
                };
                templates::respond(
                    StatusCode::FORBIDDEN,
                    templates::page_in(lang, &t(lang, "csrf-page-title"), viewer, None, body),
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
                let lang = viewer.map_or(lang, |v| v.lang);
                let mut response =
                    templates::respond(self.status_code(), error_page(lang, error, viewer));
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
        self.response_in(Lang::En)
    }
}

fn home(viewer: Option<&Viewer>) -> String {
    viewer.map_or_else(|| "/".to_string(), Viewer::home)
}

fn error_page(lang: Lang, error: &ApiError, viewer: Option<&Viewer>) -> maud::Markup {
    let body = html! {
        @match error {
            ApiError::Forbidden(detail) => {
                h1 { (t(lang, "error-forbidden")) }
                @if let Some(v) = viewer {
                    p { (ta(lang, "error-forbidden-who", &[
                            ("name", v.user.name.as_str().into()),
                            ("role", templates::role_name(lang, v.user.role).into()),
                        ])) }
                }
                p.detail { (super::messages::detail(lang, detail)) }
            }
            ApiError::NotFound(detail) => {
                h1 { (t(lang, "error-not-found")) }
                p.detail { (super::messages::detail(lang, detail)) }
            }
            ApiError::Validation(errors) => {
                h1 { (t(lang, "error-validation")) }
                ul.errors { @for e in errors { li { code { (e.field) } " " (super::messages::field(lang, &e.message)) } } }
            }
            other => {
                h1 { (super::messages::error_title(lang, other)) }
                p.detail { (super::messages::detail(lang, &other.public_detail())) }
            }
        }
        p { a href=(home(viewer)) { (t(lang, "go-home")) } }
    };
    let title = match error {
        ApiError::Forbidden(_) => t(lang, "error-forbidden"),
        other => super::messages::error_title(lang, other),
    };
    templates::page_in(lang, &title, viewer, None, body)
}
