//! The signed-in user of a page: the session cookie resolved through
//! [`crate::service::web_sessions`] on every request.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{web, FromRequest, HttpRequest};

use super::error::WebError;
use super::WebSettings;
use crate::access::{Role, User};
use crate::error::AppError;
use crate::http::extract::run_db;
use crate::http::state::AppState;
use crate::service::web_sessions;
use crate::storage::DbConnection;

/// The session cookie: the random session id, HttpOnly, SameSite=Strict, Path=/.
pub const COOKIE: &str = "tg_session";

/// The cookie that opens a session.
pub fn session_cookie(id: &str, settings: &WebSettings) -> Cookie<'static> {
    Cookie::build(COOKIE, id.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.secure_cookies)
        .max_age(time::Duration::seconds(
            settings.sessions.absolute.num_seconds().max(0),
        ))
        .finish()
}

/// A cookie that deletes the session cookie.
pub fn removal_cookie() -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    c.make_removal();
    c
}

/// A signed-in user, with what the pages need to show them.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: User,
    id: String,
    csrf: String,
    /// The trial every page is about when the server serves exactly one.
    only_trial: Option<String>,
}

impl WebSession {
    /// The session id (the cookie's value).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The CSRF token every form of this session carries.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    pub fn only_trial(&self) -> Option<&str> {
        self.only_trial.as_deref()
    }

    /// The user's home page.
    pub fn home(&self) -> String {
        home_of(self.user.role, self.only_trial())
    }

    /// Refuses, as a page, unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), WebError> {
        self.user.require(roles).map_err(|e| self.fail(e.into()))
    }

    /// A use-case error as a page that still knows who is signed in.
    pub fn fail(&self, error: AppError) -> WebError {
        WebError::Page {
            error,
            viewer: Some(Box::new(self.clone())),
        }
    }

    /// Runs a use case with this user on the blocking pool.
    pub async fn db<T, F>(&self, state: &AppState, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &User) -> Result<T, AppError> + Send + 'static,
    {
        let user = self.user.clone();
        run_db(state, move |c| f(c, &user))
            .await
            .map_err(|e| self.fail(e))
    }
}

/// Where a role starts: its main page of the trial, or the trial list when there are several.
pub fn home_of(role: Role, trial: Option<&str>) -> String {
    let page = match role {
        Role::Admin => return "/admin".into(),
        Role::Investigator => "screening",
        Role::Pharmacist => "queue",
        Role::Monitor => "dashboard",
    };
    match trial {
        Some(t) => format!("/trials/{t}/{page}"),
        None => "/trials".into(),
    }
}

pub(super) fn only_trial(state: &AppState) -> Option<String> {
    let mut ids = state.trials.0.keys();
    match (ids.next(), ids.next()) {
        (Some(id), None) => Some(id.clone()),
        _ => None,
    }
}

impl WebSession {
    pub(super) fn new(user: User, id: String, state: &AppState) -> Self {
        WebSession {
            user,
            csrf: super::csrf::token_for(&id),
            id,
            only_trial: only_trial(state),
        }
    }
}

impl FromRequest for WebSession {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req.cookie(COOKIE).map(|c| c.value().to_string());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let policy = req
            .app_data::<web::Data<WebSettings>>()
            .map(|s| s.sessions)
            .unwrap_or_default();
        Box::pin(async move {
            let id = id.ok_or(WebError::SignIn)?;
            let state =
                state.ok_or_else(|| WebError::from(AppError::Internal("no app state".into())))?;
            let lookup = id.clone();
            let user = run_db(&state, move |c| web_sessions::resolve(c, &lookup, policy))
                .await?
                .ok_or(WebError::SignIn)?;
            Ok(WebSession::new(user, id, &state))
        })
    }
}
