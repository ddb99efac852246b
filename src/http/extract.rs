//! Request extractors: the authenticated user, JSON bodies with field-named errors, and
//! running blocking database work off the async workers.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::state::AppState;
use crate::access::User;
use crate::eligibility::FieldError;
use crate::error::AppError;
use crate::storage::DbConnection;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Runs `f` with a pooled connection on actix's blocking thread pool; the pool checkout
/// happens there too, since it blocks.
pub async fn run_db<T, F>(state: &AppState, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
{
    let db = state.db.clone();
    let span = tracing::Span::current();
    web::block(move || {
        let _entered = span.enter();
        let mut conn = db.get()?;
        f(&mut conn)
    })
    .await
    .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
}

/// The user behind the request's bearer token.
pub struct AuthUser(pub User);

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let ip = req.peer_addr().map(|a| a.ip());
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal("no app state".into()))?;
            authenticate(&state, ip, token).await.map(AuthUser)
        })
    }
}

/// Authenticates a token from `ip`: refused outright while the address is blocked for too
/// many failures; every wrong token is counted and recorded in the `_system` audit chain
/// (without the token) until the address is blocked.
pub async fn authenticate(
    state: &web::Data<AppState>,
    ip: Option<std::net::IpAddr>,
    token: Option<String>,
) -> Result<User, AppError> {
    if let Some(ip) = ip.filter(|ip| state.auth_limiter.is_blocked(*ip)) {
        return Err(state.auth_limiter.refusal(ip));
    }
    // No token at all is not a guess: refuse it without counting.
    let token = token.ok_or(AppError::Unauthorized)?;
    let result = run_db(state, move |c| {
        crate::service::users::authenticate(c, &token)
    })
    .await;
    match result {
        Err(AppError::Unauthorized) => Err(note_auth_failure(state, ip).await),
        other => other,
    }
}

/// Counts a wrong token from `ip`, records it in the `_system` chain, and returns the
/// refusal to give: `Unauthorized`, or `TooManyRequests` once the address is blocked.
/// Shared by the API and the web sign-in.
pub async fn note_auth_failure(
    state: &web::Data<AppState>,
    ip: Option<std::net::IpAddr>,
) -> AppError {
    state.metrics.auth_failures.inc();
    let Some(ip) = ip else {
        return AppError::Unauthorized;
    };
    let verdict = state.auth_limiter.record_failure(ip);
    let blocked = verdict == super::auth_limit::FailureVerdict::Blocked;
    let recorded = run_db(state, move |c| {
        crate::service::users::record_auth_failure(c, &ip.to_string(), blocked)
    })
    .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record an authentication failure");
    }
    if blocked {
        state.auth_limiter.refusal(ip)
    } else {
        AppError::Unauthorized
    }
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 256)
        .then(|| token.to_string())
}

/// A JSON request body: content type checked (415), size limited (413), bytes kept so a
/// use case can parse them its own way.
pub struct JsonBytes(pub web::Bytes);

impl FromRequest for JsonBytes {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let is_json = content_type.as_deref().is_some_and(|t| {
                t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
            });
            if !is_json {
                return Err(AppError::UnsupportedMediaType(format!(
                    "send the body as application/json (got {})",
                    content_type.as_deref().unwrap_or("no Content-Type")
                )));
            }
            if declared_length.is_some_and(|n| n > BODY_LIMIT) {
                return Err(AppError::PayloadTooLarge { limit: BODY_LIMIT });
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| AppError::Malformed(format!("reading body: {e}")))?;
                if body.len() + chunk.len() > BODY_LIMIT {
                    return Err(AppError::PayloadTooLarge { limit: BODY_LIMIT });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(JsonBytes(body.freeze()))
        })
    }
}

/// Parses a JSON body into `T` (which should deny unknown fields): syntax errors are 400
/// `malformed_request`, wrong or unknown fields 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // Syntax first: a typed parse stops at the first unknown field, before it would see
    // that the text is not JSON at all.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| AppError::Malformed(e.to_string()))?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, T>(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return AppError::Malformed(inner.to_string());
        }
        let text = inner.to_string();
        let message = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m);
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split_once('`'))
            .map(|(name, _)| name.to_string());
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split_once('`'))
            .map(|(name, _)| name.to_string());
        let prefix = if path == "." {
            String::new()
        } else {
            format!("{path}.")
        };
        match (unknown, missing) {
            // The path of an unknown field already ends with the field itself.
            (Some(name), _) => AppError::Validation(vec![FieldError::new(
                if path == name || path.ends_with(&format!(".{name}")) {
                    path
                } else {
                    format!("{prefix}{name}")
                },
                "is not a known field",
            )]),
            (_, Some(name)) => AppError::Validation(vec![FieldError::new(
                format!("{prefix}{name}"),
                "is required",
            )]),
            _ => AppError::Validation(vec![FieldError::new(
                if path == "." { String::new() } else { path },
                message.to_string(),
            )]),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        unit: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        screening_id: String,
        inner: Option<Inner>,
    }

    fn fields(body: &str) -> Vec<String> {
        match parse_json::<Outer>(body.as_bytes()) {
            Err(AppError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn unknown_fields_are_named_once() {
        assert_eq!(fields(r#"{"screening_id":"s","colour":1}"#), ["colour"]);
        assert_eq!(
            fields(r#"{"screening_id":"s","inner":{"unit":"g","flag":1}}"#),
            ["inner.flag"]
        );
        assert_eq!(fields(r#"{"inner":null}"#), ["screening_id"]);
        assert_eq!(fields(r#"{"screening_id":7}"#), ["screening_id"]);
    }

    #[test]
    fn text_that_is_not_json_is_malformed() {
        for body in [r#"{"colour": "#, r#"{"screening_id":"s"}}"#, "", "nope"] {
            assert!(
                matches!(
                    parse_json::<Outer>(body.as_bytes()),
                    Err(AppError::Malformed(_))
                ),
                "{body}"
            );
        }
    }
}
