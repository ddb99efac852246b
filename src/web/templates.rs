//! The page shell and the pieces every page shares (maud: compile-time checked, every
//! value escaped).

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::i18n::{t, ta, Lang};
use super::viewer::Viewer;
use crate::access::Role;
use crate::eligibility::{CriterionStatus, Outcome};
use crate::protocol::TrialStatus;
use crate::service::queries::TrialState;

/// An HTML response that no cache keeps (pages show patient data).
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

pub fn ok(markup: Markup) -> HttpResponse {
    respond(StatusCode::OK, markup)
}

/// A 303 to `location` (after a successful POST, so a reload does not repeat it).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The hidden CSRF field of every form.
pub fn csrf_field(s: &Viewer) -> Markup {
    html! { input type="hidden" name=(super::csrf::FIELD) value=(s.csrf()); }
}

/// The role's links; a closed trial's offer nothing that would write to it.
fn nav_links(lang: Lang, role: Role, trial: Option<&str>, closed: bool) -> Vec<(String, String)> {
    let l = |key: &str| t(lang, key);
    let Some(tr) = trial else {
        return match role {
            Role::Admin => vec![
                ("/admin".into(), l("nav-admin")),
                ("/admin/sites".into(), l("nav-sites")),
            ],
            _ => vec![("/trials".into(), l("nav-trials"))],
        };
    };
    match role {
        Role::Investigator if closed => {
            vec![(format!("/trials/{tr}/screenings"), l("nav-screenings"))]
        }
        Role::Investigator => vec![
            (format!("/trials/{tr}/screening"), l("nav-new-screening")),
            (format!("/trials/{tr}/screenings"), l("nav-screenings")),
        ],
        Role::Pharmacist => vec![
            (format!("/trials/{tr}/queue"), l("nav-queue")),
            (format!("/trials/{tr}/subjects"), l("nav-allocations")),
        ],
        Role::Monitor => vec![
            (format!("/trials/{tr}/dashboard"), l("nav-dashboard")),
            (format!("/trials/{tr}/corrections"), l("nav-corrections")),
            (format!("/trials/{tr}/audit"), l("nav-audit")),
        ],
        Role::Admin => vec![
            ("/admin".into(), l("nav-admin")),
            ("/admin/sites".into(), l("nav-sites")),
        ],
    }
}

/// A role as pages name it.
pub fn role_name(lang: Lang, role: Role) -> String {
    match role {
        Role::Investigator => t(lang, "role-investigator"),
        Role::Pharmacist => t(lang, "role-pharmacist"),
        Role::Monitor => t(lang, "role-monitor"),
        Role::Admin => t(lang, "role-admin"),
    }
}

/// The header's language switch: one button per other language, named in that language.
fn language_switch(v: &Viewer) -> Markup {
    html! {
        form.lang-switch method="post" action="/language" {
            (csrf_field(v))
            @for other in Lang::ALL.into_iter().filter(|l| *l != v.lang) {
                button.link type="submit" name="language" value=(other.tag()) lang=(other.tag())
                    aria-label=(format!("{} · {}", t(v.lang, "language-switch"), other.native_name())) {
                    (other.native_name())
                }
            }
        }
    }
}

/// The banner of every page about a closed trial.
fn closed_banner(lang: Lang, tr: &TrialState, viewer: &Viewer) -> Markup {
    html! {
        div.notice.closed role="status" {
            strong { (ta(lang, "closed-title", &[("trial", tr.id.as_str().into())])) }
            @if let Some(at) = &tr.closed_at { (ta(lang, "closed-since", &[("at", viewer.when(at).into())])) }
            (t(lang, "closed-stop"))
            @if let Some(reason) = &tr.close_reason { (t(lang, "closed-reason")) (reason) }
            p { (t(lang, "closed-explained")) }
        }
    }
}

/// The whole page: header with the user and sign-out, navigation for the role, the body;
/// a banner first when the page's trial is closed.
pub fn page(title: &str, viewer: Option<&Viewer>, trial: Option<&str>, body: Markup) -> Markup {
    page_in(
        viewer.map_or(Lang::En, |v| v.lang),
        title,
        viewer,
        trial,
        body,
    )
}

/// [`page`] in `lang` (for pages without a signed-in user, who has a language of their own).
pub fn page_in(
    lang: Lang,
    title: &str,
    viewer: Option<&Viewer>,
    trial: Option<&str>,
    body: Markup,
) -> Markup {
    let trial = trial.or_else(|| viewer.and_then(Viewer::only_trial));
    let closed = viewer
        .zip(trial)
        .and_then(|(v, t)| v.trial_state(t).map(|t| (t, v)))
        .filter(|(t, _)| t.status == TrialStatus::Closed);
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · trialgate" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { (t(lang, "skip-to-content")) }
                header.top {
                    a.brand href="/" { "trialgate" }
                    @if let Some(tr) = trial { span.trial { (tr) } }
                    @if let Some(v) = viewer {
                        nav aria-label=(t(lang, "nav-main")) {
                            ul {
                                @for (href, label) in nav_links(lang, v.user.role, trial, closed.is_some()) {
                                    li { a href=(href) { (label) } }
                                }
                            }
                        }
                        div.who {
                            span { (v.user.name) " · " (role_name(lang, v.user.role))
                                @if !v.user.sites.is_empty() { " · " (v.user.sites.join(", ")) } }
                            a href="/account/password" { (t(lang, "header-password")) }
                            form method="post" action="/signout" {
                                (csrf_field(v))
                                button.link type="submit" { (t(lang, "sign-out")) }
                            }
                            (language_switch(v))
                        }
                    }
                }
                @if trial.is_some_and(|t| t.ends_with(crate::protocol::TRAINING_SUFFIX)) {
                    div.training-banner role="note" {
                        strong { (t(lang, "training-title")) }
                        (t(lang, "training-explained"))
                    }
                }
                main #main {
                    @if let Some((tr, v)) = closed { (closed_banner(lang, tr, v)) }
                    (body)
                }
            }
        }
    }
}

/// RFC 3339 UTC text as people read it: `2026-11-27 14:03:09 UTC`. Pages of a site's users
/// show their site's local time instead ([`Viewer::when`], [`Viewer::when_at`]).
pub fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

pub fn outcome_badge(lang: Lang, outcome: Outcome) -> Markup {
    let (class, text) = match outcome {
        Outcome::Eligible => ("badge pass", t(lang, "outcome-eligible")),
        Outcome::Ineligible => ("badge fail", t(lang, "outcome-ineligible")),
        Outcome::Incomplete => ("badge missing", t(lang, "outcome-incomplete")),
    };
    html! { span class=(class) { (text) } }
}

pub fn status_badge(lang: Lang, status: CriterionStatus) -> Markup {
    let (class, text) = match status {
        CriterionStatus::Pass => ("badge pass", t(lang, "status-pass")),
        CriterionStatus::Fail => ("badge fail", t(lang, "status-fail")),
        CriterionStatus::Missing => ("badge missing", t(lang, "status-missing")),
    };
    html! { span class=(class) { (text) } }
}

/// A short notice at the top of a page.
pub fn notice(kind: &str, content: Markup) -> Markup {
    html! { div class=(format!("notice {kind}")) role="status" { (content) } }
}

/// A trial's status as pages show it.
pub fn trial_status(lang: Lang, status: TrialStatus) -> String {
    match status {
        TrialStatus::Open => t(lang, "trial-open"),
        TrialStatus::Closed => t(lang, "trial-closed"),
    }
}

/// A trial's status as a heading shows it (capitalised in English).
pub fn trial_status_title(lang: Lang, status: TrialStatus) -> String {
    match status {
        TrialStatus::Open => t(lang, "trial-open-title"),
        TrialStatus::Closed => t(lang, "trial-closed-title"),
    }
}
