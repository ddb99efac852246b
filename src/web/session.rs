//! The signed-in user of a page: the session cookie resolved through
//! [`crate::service::web_sessions`] on every request.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{web, FromRequest, HttpRequest};

use super::error::WebError;
use super::WebSettings;
use crate::access::{Permission, User};
use crate::http::error::ApiError;
use crate::http::extract::run_db;
use crate::http::state::AppState;
use crate::service::queries::{self, TrialState};
use crate::service::{users, web_sessions};
use crate::storage::DbConnection;

use super::i18n::Lang;
use super::viewer::Viewer;
pub use super::viewer::{home_of, removal_cookie, COOKIE};

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

/// A signed-in user: who they are as pages show them ([`Viewer`], also through `Deref`)
/// and the session id behind it.
#[derive(Debug, Clone)]
pub struct WebSession {
    viewer: Viewer,
    id: String,
}

impl std::ops::Deref for WebSession {
    type Target = Viewer;
    fn deref(&self) -> &Viewer {
        &self.viewer
    }
}

impl WebSession {
    /// The session id (the cookie's value).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Who is looking, for the page shell and error pages.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    /// Refuses a POST whose form lacks this session's CSRF token (compared in constant time).
    pub fn check_csrf(&self, form: &super::form::Fields) -> Result<(), WebError> {
        if super::csrf::token_matches(&self.id, form.value(super::csrf::FIELD)) {
            Ok(())
        } else {
            Err(WebError::Csrf {
                viewer: Some(Box::new(self.viewer.clone())),
            })
        }
    }

    /// Refuses, as a page, unless the user holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), WebError> {
        self.user
            .require_permission(permission)
            .map_err(|e| self.fail(e))
    }

    /// A use-case error as a page that still knows who is signed in.
    pub fn fail(&self, error: impl Into<ApiError>) -> WebError {
        WebError::Page {
            error: error.into(),
            viewer: Some(Box::new(self.viewer.clone())),
        }
    }

    /// Runs a use case with this user on the blocking pool.
    pub async fn db<T, E, F>(&self, state: &AppState, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        E: Send + 'static,
        ApiError: From<E>,
        F: FnOnce(&mut DbConnection, &User) -> Result<T, E> + Send + 'static,
    {
        let user = self.user.clone();
        run_db(state, move |c| f(c, &user))
            .await
            .map_err(|e| self.fail(e))
    }
}

pub(super) fn only_trial(state: &AppState) -> Option<String> {
    let ids = state.trials.ids();
    let mut ids = ids.iter();
    match (ids.next(), ids.next()) {
        (Some(id), None) => Some(id.clone()),
        _ => None,
    }
}

impl WebSession {
    pub(super) fn new(
        user: User,
        id: String,
        state: &AppState,
        trial: Option<TrialState>,
        lang: Lang,
    ) -> Self {
        WebSession {
            viewer: Viewer {
                user,
                csrf: super::csrf::token_for(&id),
                only_trial: only_trial(state),
                trial,
                lang,
                zones: Default::default(),
            },
            id,
        }
    }

    /// With the time zones of the user's sites, for the times its pages show.
    pub(super) fn with_zones(mut self, zones: crate::local_time::SiteZones) -> Self {
        self.viewer.zones = zones;
        self
    }
}

impl FromRequest for WebSession {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req.cookie(COOKIE).map(|c| c.value().to_string());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let trial_in_path = req.match_info().get("trial").map(str::to_string);
        let browser_lang = super::i18n::of_request(req);
        let policy = req
            .app_data::<web::Data<WebSettings>>()
            .map(|s| s.sessions)
            .unwrap_or_default();
        Box::pin(async move {
            let id = id.ok_or(WebError::SignIn)?;
            let state = state.ok_or_else(|| WebError::from(ApiError::internal("no app state")))?;
            let lookup = id.clone();
            // The trial the page is about, read in the same round trip as the session (one
            // row): an unknown trial is left to the handler's 404.
            let trial = trial_in_path
                .or_else(|| only_trial(&state))
                .and_then(|t| state.trials.get(&t).ok());
            let found = run_db(&state, move |c| {
                let Some(user) = web_sessions::resolve(c, &lookup, policy)? else {
                    return Ok::<_, ApiError>(None);
                };
                let trial = match &trial {
                    Some(t) => Some(queries::trial_state(c, t, &user)?),
                    None => None,
                };
                let lang = users::language(c, &user)?;
                let zones = crate::service::sites::zones_of(c, &user)?;
                Ok(Some((user, trial, lang, zones)))
            })
            .await?;
            let (user, trial, lang, zones) = found.ok_or(WebError::SignIn)?;
            let lang = lang.unwrap_or(browser_lang);
            Ok(WebSession::new(user, id, &state, trial, lang).with_zones(zones))
        })
    }
}
