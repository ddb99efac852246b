//! Admin pages: users (create with the token shown once, revoke) and closing a trial.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::{Permission, Role};
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::TrialStatus;
use crate::service::views::{AccountStatus, SiteView, TrialSummary, UserSummary};
use crate::service::{queries, sites, trials, users};

#[derive(Debug, Deserialize)]
pub struct Flash {
    #[serde(default)]
    revoked: Option<String>,
    #[serde(default)]
    closed: Option<String>,
    #[serde(default)]
    amended: Option<String>,
}

fn errors_at<'a>(errors: &'a [FieldError], prefix: &str) -> Vec<&'a FieldError> {
    errors
        .iter()
        .filter(|e| e.field == prefix || e.field.starts_with(&format!("{prefix}[")))
        .collect()
}

fn field_error(errors: &[FieldError], name: &str) -> Markup {
    let found = errors_at(errors, name);
    html! {
        @if !found.is_empty() {
            p.field-error id=(format!("{name}-error")) { @for e in found { (e.message) " " } }
        }
    }
}

fn user_form(s: &WebSession, sites: &[SiteView], fields: &Fields, errors: &[FieldError]) -> Markup {
    let role = fields.value("role");
    let invalid = |n: &str| (!errors_at(errors, n).is_empty()).then_some("true");
    html! {
        section aria-labelledby="new-user-title" {
            h2 #new-user-title { "Create a user" }
            form method="post" action="/admin/users" {
                (csrf_field(s))
                div.row {
                    div.field {
                        label for="name" { "Name" }
                        input #name name="name" value=(fields.value("name")) autocomplete="off"
                            aria-invalid=[invalid("name")] aria-describedby="name-hint";
                        p.hint #name-hint { "Letters, digits, '.', '_', '@' or '-'." }
                        (field_error(errors, "name"))
                    }
                    div.field.small {
                        label for="role" { "Role" }
                        select #role name="role" aria-invalid=[invalid("role")] {
                            @for r in [Role::Investigator, Role::Pharmacist, Role::Monitor, Role::Admin] {
                                option value=(r.as_str()) selected[role == r.as_str()] { (r.as_str()) }
                            }
                        }
                        (field_error(errors, "role"))
                    }
                    div.field {
                        label for="sites" { "Sites" }
                        input #sites name="sites" value=(fields.value("sites")) autocomplete="off"
                            aria-invalid=[invalid("sites")] aria-describedby="sites-hint";
                        p.hint #sites-hint { "Comma-separated, e.g. SITE01, SITE02. Leave empty for all sites (always for admins)." }
                        p.hint #sites-registered {
                            @if sites.is_empty() {
                                "No site is registered yet: " a href="/admin/sites" { "register the sites" } " first."
                            } @else {
                                "Registered: "
                                @for (i, site) in sites.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    strong { (site.code) } " (" (site.name) ")"
                                }
                                " · " a href="/admin/sites" { "Sites" }
                            }
                        }
                        (field_error(errors, "sites"))
                    }
                }
                button.primary type="submit" { "Create user" }
            }
        }
    }
}

/// A trial as the admin's list shows it: its summary and the protocol version this server
/// has in force.
struct TrialRow {
    summary: TrialSummary,
    version: Option<i32>,
}

fn home_page(
    s: &WebSession,
    sites: &[SiteView],
    list: &[UserSummary],
    trials: &[TrialRow],
    fields: &Fields,
    errors: &[FieldError],
    flash: Option<Markup>,
) -> Markup {
    let body = html! {
        h1 { "Users and trials" }
        @if let Some(f) = flash { (f) }
        (user_form(s, sites, fields, errors))
        section aria-labelledby="users-title" {
            h2 #users-title { "Users" }
            p { a href="/admin/access-review.csv" download { "Download the access review (CSV)" }
                ": every account, what its role may do and where, when it was last active, when it expires." }
            div.table-scroll role="region" aria-label="Table: Users" tabindex="0" {
                table {
                    thead { tr { th { "Name" } th { "Full name" } th { "Role" } th { "Sites" } th { "Created" } th { "Last active" } th { "Status" } th { span.visually-hidden { "Action" } } } }
                    tbody {
                        @for u in list {
                            tr {
                                td { (u.name) }
                                td { (u.full_name) }
                                td { (u.role) }
                                td { (if u.sites.is_empty() { "all".to_string() } else { u.sites.join(", ") }) }
                                td { (templates::when(&u.created_at)) }
                                td { (u.last_active_at.as_deref().map(templates::when).unwrap_or_else(|| "—".into())) }
                                td { @if let Some(r) = &u.revoked_at { "Revoked " (templates::when(r)) }
                                    @else if u.status == AccountStatus::Expired { "Expired" }
                                    @else { "Active" @if let Some(e) = &u.expires_at { " (expires " (templates::when(e)) ")" } } }
                                td { @if u.revoked_at.is_none() && u.name != s.user.name {
                                    a href=(format!("/admin/users/{}/revoke", u.name)) aria-label=(format!("Revoke {}", u.name)) { "Revoke…" } } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="trials-title" {
            h2 #trials-title { "Trials" }
            div.table-scroll role="region" aria-label="Table: Trials" tabindex="0" {
                table {
                    thead { tr { th { "Trial" } th { "Title" } th { "Status" } th.num { "Protocol version" } th.num { "Enrolled" } th { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for row in trials {
                            @let t = &row.summary;
                            tr {
                                td { (t.id) }
                                td { (t.title) }
                                td { (t.status) }
                                td.num { @if let Some(v) = row.version { (v) } }
                                td.num { (t.enrolled) " / " (t.cap) }
                                td { @if t.status == TrialStatus::Open {
                                    a href=(format!("/admin/trials/{}/amend", t.id)) aria-label=(format!("Amend the protocol of {}", t.id)) { "Amend protocol…" }
                                    " · "
                                    a href=(format!("/admin/trials/{}/close", t.id)) aria-label=(format!("Close trial {}", t.id)) { "Close trial…" } } }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Users and trials", Some(s), None, body)
}

/// Users, trials and the registered sites (which the user form offers).
type Lists = (Vec<UserSummary>, Vec<TrialRow>, Vec<SiteView>);

async fn lists(state: &web::Data<AppState>, s: &WebSession) -> Result<Lists, WebError> {
    let trials = state.trials.clone();
    let (users, summaries, sites) = s
        .db(state, move |c, user| {
            Ok::<_, ApiError>((
                users::list(c, user)?,
                queries::list_trials(c, &trials)?,
                sites::list(c, user)?,
            ))
        })
        .await?;
    let rows = summaries
        .into_iter()
        .map(|summary| TrialRow {
            version: state.trials.get(&summary.id).ok().map(|t| t.version),
            summary,
        })
        .collect();
    Ok((users, rows, sites))
}

/// The access review as a CSV download (the API's `GET /users/access-review?format=csv`).
pub async fn access_review(
    state: web::Data<AppState>,
    session: WebSession,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::ManageUsers)?;
    let rows = session.db(&state, users::access_review).await?;
    let csv = users::access_review_csv(&rows).map_err(|e| session.fail(e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"access-review.csv\"",
        ))
        .body(csv))
}

pub async fn home(
    state: web::Data<AppState>,
    session: WebSession,
    flash: web::Query<Flash>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::ManageUsers)?;
    let (list, trials, sites) = lists(&state, &session).await?;
    // Nothing typed into the address comes back: a notice names only a user the server
    // knows to be revoked or a trial it knows to be closed, as the server spells them.
    let flash = flash.into_inner();
    let revoked = flash.revoked.and_then(|name| {
        list.iter()
            .find(|u| u.name == name && u.revoked_at.is_some())
    });
    let closed = flash.closed.and_then(|id| {
        trials
            .iter()
            .map(|r| &r.summary)
            .find(|t| t.id == id && t.status == TrialStatus::Closed)
    });
    let amended = flash.amended.and_then(|id| {
        trials
            .iter()
            .find(|r| r.summary.id == id && r.version.is_some_and(|v| v > 1))
    });
    let flash = match (revoked, closed) {
        (Some(u), _) => Some(templates::notice(
            "ok",
            html! { "User " strong { (u.name) } " is revoked: their token no longer works and their sessions are ended." },
        )),
        (None, Some(t)) => Some(templates::notice(
            "ok",
            html! { "Trial " strong { (t.id) } " is closed." },
        )),
        (None, None) => amended.map(|r| {
            templates::notice(
                "ok",
                html! { "Trial " strong { (r.summary.id) } ": protocol version " (r.version.unwrap_or_default()) " in force." },
            )
        }),
    };
    let mut fields = Fields::default();
    fields.set("role", Role::Investigator.as_str());
    Ok(templates::ok(home_page(
        &session,
        &sites,
        &list,
        &trials,
        &fields,
        &[],
        flash,
    )))
}

fn sites_of(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Creates a user; the token is on this response only.
pub async fn create_user(
    state: web::Data<AppState>,
    session: WebSession,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::ManageUsers)?;
    let name = fields.value("name").trim().to_string();
    let role = fields.value("role").to_string();
    let sites = sites_of(fields.value("sites"));
    let result = session
        .db(&state, move |c, user| {
            users::create(c, user, &name, &role, &sites)
        })
        .await;
    match result {
        Ok(created) => {
            let body = html! {
                h1 { "User created" }
                div.card {
                    dl.big {
                        dt { "Name" } dd { (created.name) }
                        dt { "Role" } dd { (created.role) }
                        dt { "Sites" } dd { (if created.sites.is_empty() { "all".to_string() } else { created.sites.join(", ") }) }
                    }
                    div.field {
                        label for="new-token" { "Token" }
                        input #new-token.token type="text" readonly value=(created.token) aria-describedby="token-warning";
                        button type="button" data-copy="new-token" hidden { "Copy token" }
                    }
                    p.notice.warn #token-warning role="status" {
                        strong { "This token is shown only once." }
                        " Give it to " (created.name) " in person or through a secure channel; they sign in with it at this server's address. "
                        "If it is lost, revoke the user and create a new one."
                    }
                }
                p { a.button href="/admin" { "Done" } }
            };
            Ok(templates::ok(page(
                "User created",
                Some(&session),
                None,
                body,
            )))
        }
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => {
            // Site errors name `sites[i]`; show them at the sites input.
            let errors: Vec<FieldError> = errors
                .into_iter()
                .map(|e| {
                    if e.field.starts_with("sites[") {
                        FieldError::new("sites", format!("{}: {}", e.field, e.message))
                    } else {
                        e
                    }
                })
                .collect();
            let (list, trials, sites) = lists(&state, &session).await?;
            Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                home_page(&session, &sites, &list, &trials, &fields, &errors, None),
            ))
        }
        Err(e) => Err(e),
    }
}

pub async fn confirm_revoke(
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::ManageUsers)?;
    let name = path.into_inner();
    let body = html! {
        h1 { "Revoke " (name) "?" }
        p { "Their token stops working at once and every browser session of theirs ends. "
            "Their past actions stay in the audit trail. This cannot be undone; to give them access again, create a new user." }
        form method="post" action=(format!("/admin/users/{name}/revoke")) {
            (csrf_field(&session))
            div.actions {
                button.danger type="submit" { "Revoke " (name) }
                a href="/admin" { "Cancel" }
            }
        }
    };
    Ok(templates::ok(page(
        "Revoke user",
        Some(&session),
        None,
        body,
    )))
}

pub async fn revoke(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    form: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&form)?;
    session.require(Permission::ManageUsers)?;
    let name = path.into_inner();
    let n = name.clone();
    session
        .db(&state, move |c, user| users::revoke(c, user, &n))
        .await?;
    Ok(templates::see_other(&format!(
        "/admin?revoked={}",
        url_component(&name)
    )))
}

/// Percent-encodes everything but unreserved characters.
pub(super) fn url_component(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn close_form_page(
    s: &WebSession,
    trial_id: &str,
    title: &str,
    fields: &Fields,
    errors: &[FieldError],
) -> Markup {
    let reveal = fields.value("reveal_seed") == "yes";
    let body = html! {
        h1 { "Close trial " (trial_id) }
        p.lead { (title) }
        p { "Closing stops all screening and randomization of this trial for good." }
        form method="post" action=(format!("/admin/trials/{trial_id}/close")) {
            (csrf_field(s))
            div.field {
                label for="reason" { "Reason" }
                textarea #reason name="reason" rows="3" aria-invalid=[(!errors_at(errors, "reason").is_empty()).then_some("true")] { (fields.value("reason")) }
                (field_error(errors, "reason"))
            }
            div.field {
                label.choice {
                    input type="checkbox" name="reveal_seed" value="yes" checked[reveal];
                    " Reveal the randomization seed in the audit trail"
                }
                p.hint { "Revealing lets anyone replay and check every allocation. Reveal only when the allocation no longer needs to be concealed." }
            }
            div.actions {
                button.primary type="submit" { "Review" }
                a href="/admin" { "Cancel" }
            }
        }
    };
    page("Close trial", Some(s), Some(trial_id), body)
}

pub async fn close_form(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::CloseTrial)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    if session.trial_closed(&trial_id) {
        let body = html! {
            h1 { "Close trial " (trial_id) }
            p { "The trial is already closed." }
            p { a href="/admin" { "Back to users and trials" } }
        };
        return Ok(templates::ok(page(
            "Close trial",
            Some(&session),
            Some(&trial_id),
            body,
        )));
    }
    Ok(templates::ok(close_form_page(
        &session,
        &trial_id,
        &trial.protocol.title,
        &Fields::default(),
        &[],
    )))
}

/// Two steps: the first POST shows what will happen; the second (`confirm=yes`) closes.
pub async fn close(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::CloseTrial)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let reason = fields.value("reason").to_string();
    let reveal = fields.value("reveal_seed") == "yes";
    if fields.value("confirm") != "yes" {
        // The service's own rule for reasons, applied before the confirmation is shown.
        if let Err(message) = crate::text::check_reason(&reason, crate::text::MAX_REASON_CHARS) {
            return Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                close_form_page(
                    &session,
                    &trial_id,
                    &trial.protocol.title,
                    &fields,
                    &[FieldError::new("reason", message)],
                ),
            ));
        }
        let body = html! {
            h1 { "Close trial " (trial_id) "?" }
            div.card.confirm {
                dl.big {
                    dt { "Trial" } dd { (trial.protocol.title) }
                    dt { "Reason" } dd { (reason) }
                    dt { "Seed" } dd { (if reveal { "Revealed in the audit trail" } else { "Kept secret" }) }
                }
                p { strong { "This cannot be undone." } " No patient can be screened or randomized in this trial afterwards." }
                form method="post" action=(format!("/admin/trials/{trial_id}/close")) {
                    (csrf_field(&session))
                    input type="hidden" name="reason" value=(reason);
                    @if reveal { input type="hidden" name="reveal_seed" value="yes"; }
                    input type="hidden" name="confirm" value="yes";
                    div.actions {
                        button.danger type="submit" { "Close the trial now" }
                        a href="/admin" { "Cancel" }
                    }
                }
            }
        };
        return Ok(templates::ok(page(
            "Confirm closing",
            Some(&session),
            Some(&trial_id),
            body,
        )));
    }
    let t = trial.clone();
    let result = session
        .db(&state, move |c, user| {
            trials::close(c, &t, user, &reason, reveal)
        })
        .await;
    match result {
        Ok(_) => Ok(templates::see_other(&format!(
            "/admin?closed={}",
            url_component(&trial_id)
        ))),
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => Ok(templates::respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            close_form_page(&session, &trial_id, &trial.protocol.title, &fields, &errors),
        )),
        Err(e) => Err(e),
    }
}
