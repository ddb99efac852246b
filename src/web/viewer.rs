//! Who is looking at a page: the signed-in user, their session's CSRF token and the trial
//! pages are about. Plain data, so the page shell and error pages can show it without
//! knowing how sessions are resolved.

use super::i18n::Lang;
use crate::access::{Permission, Role, User};
use crate::local_time::SiteZones;
use crate::protocol::TrialStatus;
use crate::service::queries::TrialState;

/// The session cookie's name.
pub const COOKIE: &str = "tg_session";

/// A cookie that deletes the session cookie.
pub fn removal_cookie() -> actix_web::cookie::Cookie<'static> {
    let mut c = actix_web::cookie::Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish();
    c.make_removal();
    c
}

/// The signed-in user as pages show them.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub(super) csrf: String,
    /// The trial every page is about when the server serves exactly one.
    pub(super) only_trial: Option<String>,
    /// The state of the trial this request is about (its address's, else the only one),
    /// read with the session so that every page can say when the trial is closed.
    pub(super) trial: Option<TrialState>,
    /// The language the pages speak to this user ([`super::i18n`]).
    pub lang: Lang,
    /// The time zones of the user's sites (none: UTC), read with the session.
    pub(super) zones: SiteZones,
}

impl Viewer {
    /// The CSRF token every form of this session carries.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    pub fn only_trial(&self) -> Option<&str> {
        self.only_trial.as_deref()
    }

    /// Whether the user holds `permission` (to offer an action; the use case checks again).
    pub fn may(&self, permission: Permission) -> bool {
        self.user.require_permission(permission).is_ok()
    }

    /// The state of `trial`, when this request read it.
    pub fn trial_state(&self, trial: &str) -> Option<&TrialState> {
        self.trial.as_ref().filter(|t| t.id == trial)
    }

    /// Whether `trial` is known to be closed (pages then offer no action that writes to it).
    pub fn trial_closed(&self, trial: &str) -> bool {
        self.trial_state(trial)
            .is_some_and(|t| t.status == TrialStatus::Closed)
    }

    /// A time as this viewer reads it: in their (first) site's zone with the offset, UTC
    /// for users without sites.
    pub fn when(&self, rfc3339: &str) -> String {
        self.zones.when(None, rfc3339)
    }

    /// A time of a row of `site` (a screening, a subject): in that site's zone when it is one
    /// of the viewer's, else as [`Viewer::when`].
    pub fn when_at(&self, site: &str, rfc3339: &str) -> String {
        self.zones.when(Some(site), rfc3339)
    }

    /// Today's date at the viewer's (first) site, UTC's without one.
    pub fn today(&self) -> chrono::NaiveDate {
        self.zones.today(None, chrono::Utc::now())
    }

    /// The user's home page.
    pub fn home(&self) -> String {
        home_of(self.user.role, self.only_trial())
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
