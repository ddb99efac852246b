//! Who is looking at a page: the signed-in user, their session's CSRF token and the trial
//! pages are about. Plain data, so the page shell and error pages can show it without
//! knowing how sessions are resolved.

use crate::access::{Role, User};

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
}

impl Viewer {
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
