//! The page shell and the pieces every page shares (maud: compile-time checked, every
//! value escaped).

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

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
fn nav_links(role: Role, trial: Option<&str>, closed: bool) -> Vec<(String, &'static str)> {
    let Some(t) = trial else {
        return match role {
            Role::Admin => vec![
                ("/admin".into(), "Users and trials"),
                ("/admin/sites".into(), "Sites"),
            ],
            _ => vec![("/trials".into(), "Trials")],
        };
    };
    match role {
        Role::Investigator if closed => vec![(format!("/trials/{t}/screenings"), "Screenings")],
        Role::Investigator => vec![
            (format!("/trials/{t}/screening"), "New screening"),
            (format!("/trials/{t}/screenings"), "Screenings"),
        ],
        Role::Pharmacist => vec![
            (format!("/trials/{t}/queue"), "Randomization queue"),
            (format!("/trials/{t}/subjects"), "Allocations"),
        ],
        Role::Monitor => vec![
            (format!("/trials/{t}/dashboard"), "Dashboard"),
            (format!("/trials/{t}/corrections"), "Corrections"),
            (format!("/trials/{t}/audit"), "Audit log"),
        ],
        Role::Admin => vec![
            ("/admin".into(), "Users and trials"),
            ("/admin/sites".into(), "Sites"),
        ],
    }
}

/// The banner of every page about a closed trial.
fn closed_banner(t: &TrialState, viewer: &Viewer) -> Markup {
    html! {
        div.notice.closed role="status" {
            strong { "Trial " (t.id) " is closed" }
            @if let Some(at) = &t.closed_at { " since " (viewer.when(at)) }
            "."
            @if let Some(reason) = &t.close_reason { " Reason: " (reason) }
            p { "No patient can be screened, randomized or withdrawn any more; the records stay readable." }
        }
    }
}

/// The whole page: header with the user and sign-out, navigation for the role, the body;
/// a banner first when the page's trial is closed.
pub fn page(title: &str, viewer: Option<&Viewer>, trial: Option<&str>, body: Markup) -> Markup {
    let trial = trial.or_else(|| viewer.and_then(Viewer::only_trial));
    let closed = viewer
        .zip(trial)
        .and_then(|(v, t)| v.trial_state(t).map(|t| (t, v)))
        .filter(|(t, _)| t.status == TrialStatus::Closed);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · trialgate" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "trialgate" }
                    @if let Some(t) = trial { span.trial { (t) } }
                    @if let Some(v) = viewer {
                        nav aria-label="Main" {
                            ul {
                                @for (href, label) in nav_links(v.user.role, trial, closed.is_some()) {
                                    li { a href=(href) { (label) } }
                                }
                            }
                        }
                        div.who {
                            span { (v.user.name) " · " (v.user.role.as_str())
                                @if !v.user.sites.is_empty() { " · " (v.user.sites.join(", ")) } }
                            form method="post" action="/signout" {
                                (csrf_field(v))
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                @if trial.is_some_and(|t| t.ends_with(crate::protocol::TRAINING_SUFFIX)) {
                    div.training-banner role="note" {
                        strong { "Training trial" }
                        " — for practice: its patients, allocations and audit trail are not the study's."
                    }
                }
                main #main {
                    @if let Some((t, v)) = closed { (closed_banner(t, v)) }
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

pub fn outcome_badge(outcome: Outcome) -> Markup {
    let (class, text) = match outcome {
        Outcome::Eligible => ("badge pass", "Eligible"),
        Outcome::Ineligible => ("badge fail", "Ineligible"),
        Outcome::Incomplete => ("badge missing", "Incomplete"),
    };
    html! { span class=(class) { (text) } }
}

pub fn status_badge(status: CriterionStatus) -> Markup {
    let (class, text) = match status {
        CriterionStatus::Pass => ("badge pass", "Pass"),
        CriterionStatus::Fail => ("badge fail", "Fail"),
        CriterionStatus::Missing => ("badge missing", "Missing"),
    };
    html! { span class=(class) { (text) } }
}

/// A short notice at the top of a page.
pub fn notice(kind: &str, content: Markup) -> Markup {
    html! { div class=(format!("notice {kind}")) role="status" { (content) } }
}
