//! Request extractors: the authenticated user, JSON bodies with field-named errors, and
//! running blocking database work off the async workers.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;

use super::state::AppState;
use crate::access::User;
use crate::fields::JsonRequest;
use crate::http::error::ApiError;
use crate::storage::DbConnection;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Runs `f` with a pooled connection on actix's blocking thread pool; the pool checkout
/// happens there too, since it blocks.
/// The use case's own error becomes the edge's answer here (`ApiError: From<E>`).
pub async fn run_db<T, E, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let db = state.db.clone();
    let span = tracing::Span::current();
    web::block(move || {
        let _entered = span.enter();
        let mut conn = db.get()?;
        f(&mut conn).map_err(ApiError::from)
    })
    .await
    .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))?
}

/// The user behind the request's bearer token.
pub struct AuthUser(pub User);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let ip = req.peer_addr().map(|a| a.ip());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("no app state"))?;
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
) -> Result<User, ApiError> {
    if let Some(ip) = ip.filter(|ip| state.auth_limiter.is_blocked(*ip)) {
        return Err(state.auth_limiter.refusal(ip));
    }
    // No token at all is not a guess: refuse it without counting.
    let token = token.ok_or(ApiError::Unauthorized)?;
    let result = run_db(state, move |c| {
        crate::service::users::authenticate(c, &token)
    })
    .await;
    match result {
        Err(ApiError::Unauthorized) => Err(note_auth_failure(state, ip).await),
        other => other,
    }
}

/// The client's address, or the 429 to answer while it is blocked for failed
/// authentications (checked before any credential it sends is looked at).
pub fn unblocked_client(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<std::net::IpAddr>, ApiError> {
    let ip = req.peer_addr().map(|a| a.ip());
    match ip.filter(|ip| state.auth_limiter.is_blocked(*ip)) {
        Some(ip) => Err(state.auth_limiter.refusal(ip)),
        None => Ok(ip),
    }
}

/// Counts a wrong token from `ip`, records it in the `_system` chain, and returns the
/// refusal to give: `Unauthorized`, or `TooManyRequests` once the address is blocked.
/// Shared by the API and the web sign-in.
pub async fn note_auth_failure(
    state: &web::Data<AppState>,
    ip: Option<std::net::IpAddr>,
) -> ApiError {
    state.metrics.auth_failures.inc();
    let Some(ip) = ip else {
        return ApiError::Unauthorized;
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
        ApiError::Unauthorized
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

/// A TOML request body (`application/toml`, a protocol amendment), checked like [`JsonBytes`].
pub struct TomlBytes(pub web::Bytes);

fn content_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Reads a body of an accepted media type, refusing more than [`BODY_LIMIT`] bytes before
/// reading them when the length is declared, and as soon as they arrive otherwise.
fn limited_body(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
    accepted: fn(&str) -> bool,
    wanted: &'static str,
) -> Pin<Box<dyn Future<Output = Result<web::Bytes, ApiError>>>> {
    let content_type = content_type(req);
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if !content_type.as_deref().is_some_and(accepted) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as {wanted} (got {})",
                content_type.as_deref().unwrap_or("no Content-Type")
            )));
        }
        if declared_length.is_some_and(|n| n > BODY_LIMIT) {
            return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::Malformed(format!("reading body: {e}")))?;
            if body.len() + chunk.len() > BODY_LIMIT {
                return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    })
}

impl FromRequest for JsonBytes {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = limited_body(
            req,
            payload,
            |t| t == "application/json" || (t.starts_with("application/") && t.ends_with("+json")),
            "application/json",
        );
        Box::pin(async move { body.await.map(JsonBytes) })
    }
}

/// Reads a TOML body once the handler has authenticated and authorised the request, so that
/// a bad token is a 401 whatever was sent.
pub async fn toml_body(req: &HttpRequest, payload: web::Payload) -> Result<TomlBytes, ApiError> {
    let mut payload = payload.into_inner();
    limited_body(
        req,
        &mut payload,
        |t| t == "application/toml",
        "application/toml",
    )
    .await
    .map(TomlBytes)
}

/// Parses a JSON body into its typed request through the one mapping ([`crate::fields`]):
/// syntax errors are 400 `malformed_request`, wrong, unknown or missing fields 422 naming them.
pub fn parse_json<T: JsonRequest>(bytes: &[u8]) -> Result<T, ApiError> {
    Ok(crate::fields::parse_json(bytes)?)
}

/// The request's `Idempotency-Key` header, if it sent one (visible ASCII; the use case checks
/// its length).
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    req.headers()
        .get("Idempotency-Key")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| ApiError::field("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()
}
