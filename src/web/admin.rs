//! Admin pages: users (create with the token shown once, revoke) and closing a trial.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::i18n::{t, ta, Lang};
use super::session::WebSession;
use super::signature::{self, Refusal};
use super::templates::{self, csrf_field, page};
use crate::access::{Permission, Role};
use crate::audit::signature::Meaning;
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

pub(super) fn errors_at<'a>(errors: &'a [FieldError], prefix: &str) -> Vec<&'a FieldError> {
    errors
        .iter()
        .filter(|e| e.field == prefix || e.field.starts_with(&format!("{prefix}[")))
        .collect()
}

/// The role select of the user forms, `role` chosen.
pub(super) fn role_field(l: Lang, role: &str, errors: &[FieldError]) -> Markup {
    let invalid = (!errors_at(errors, "role").is_empty()).then_some("true");
    html! {
        div.field.small {
            label for="role" { (t(l, "admin-role")) }
            select #role name="role" aria-invalid=[invalid] {
                @for r in [Role::Investigator, Role::Pharmacist, Role::Monitor, Role::Admin] {
                    option value=(r.as_str()) selected[role == r.as_str()] { (templates::role_name(l, r)) }
                }
            }
            (field_error(l, errors, "role"))
        }
    }
}

pub(super) fn field_error(l: Lang, errors: &[FieldError], name: &str) -> Markup {
    let found = errors_at(errors, name);
    html! {
        @if !found.is_empty() {
            p.field-error id=(format!("{name}-error")) { @for e in found { (super::messages::field(l, &e.message)) " " } }
        }
    }
}

fn user_form(s: &WebSession, sites: &[SiteView], fields: &Fields, errors: &[FieldError]) -> Markup {
    let role = fields.value("role");
    let invalid = |n: &str| (!errors_at(errors, n).is_empty()).then_some("true");
    let l = s.lang;
    html! {
        section aria-labelledby="new-user-title" {
            h2 #new-user-title { (t(l, "admin-create-user")) }
            form method="post" action="/admin/users" {
                (csrf_field(s))
                div.row {
                    div.field {
                        label for="name" { (t(l, "admin-name")) }
                        input #name name="name" value=(fields.value("name")) autocomplete="off"
                            aria-invalid=[invalid("name")] aria-describedby="name-hint";
                        p.hint #name-hint { (t(l, "admin-name-hint")) }
                        (field_error(l, errors, "name"))
                    }
                    (role_field(l, role, errors))
                    div.field {
                        label for="sites" { (t(l, "admin-sites")) }
                        input #sites name="sites" value=(fields.value("sites")) autocomplete="off"
                            aria-invalid=[invalid("sites")] aria-describedby="sites-hint";
                        p.hint #sites-hint { (t(l, "admin-sites-hint")) }
                        p.hint #sites-registered {
                            @if sites.is_empty() {
                                (t(l, "admin-no-site-yet")) a href="/admin/sites" { (t(l, "admin-register-sites")) } (t(l, "admin-no-site-yet-end"))
                            } @else {
                                (t(l, "admin-registered"))
                                @for (i, site) in sites.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    strong { (site.code) } " (" (site.name) ")"
                                }
                                " · " a href="/admin/sites" { (t(l, "nav-sites")) }
                            }
                        }
                        (field_error(l, errors, "sites"))
                    }
                }
                div.row {
                    div.field {
                        label for="full_name" { (t(l, "admin-full-name")) }
                        input #full_name name="full_name" value=(fields.value("full_name")) autocomplete="off"
                            required aria-invalid=[invalid("full_name")] aria-describedby="full_name-hint";
                        p.hint #full_name-hint { (t(l, "admin-full-name-hint")) }
                        (field_error(l, errors, "full_name"))
                    }
                    div.field {
                        label for="email" { (t(l, "admin-email")) }
                        input #email type="email" name="email" value=(fields.value("email")) autocomplete="off"
                            aria-invalid=[invalid("email")];
                        (field_error(l, errors, "email"))
                    }
                    div.field.small {
                        label for="expires_at" { (t(l, "admin-expires-at")) }
                        input #expires_at type="date" name="expires_at" value=(fields.value("expires_at"))
                            aria-invalid=[invalid("expires_at")];
                        (field_error(l, errors, "expires_at"))
                    }
                }
                button.primary type="submit" { (t(l, "admin-create-button")) }
            }
        }
    }
}

/// A trial as the admin's list shows it: its summary and the protocol version this server
/// has in force.
struct TrialRow {
    summary: TrialSummary,
    version: Option<i32>,
    /// The title in the viewer's language.
    title: String,
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
    let l = s.lang;
    let all_sites = t(l, "admin-all-sites");
    let body = html! {
        h1 { (t(l, "nav-admin")) }
        @if let Some(f) = flash { (f) }
        (user_form(s, sites, fields, errors))
        section aria-labelledby="users-title" {
            h2 #users-title { (t(l, "admin-users")) }
            p { a href="/admin/access-review.csv" download { (t(l, "admin-access-review")) }
                (t(l, "admin-access-review-what")) }
            div.table-scroll role="region" aria-label=(t(l, "admin-users-table")) tabindex="0" {
                table {
                    thead { tr { th { (t(l, "admin-name")) } th { (t(l, "admin-full-name")) } th { (t(l, "admin-role")) } th { (t(l, "admin-sites")) } th { (t(l, "admin-created")) } th { (t(l, "admin-last-active")) } th { (t(l, "trials-status")) } th { span.visually-hidden { (t(l, "col-action")) } } } }
                    tbody {
                        @for u in list {
                            tr {
                                td { a href=(format!("/admin/users/{}", u.name)) { (u.name) } }
                                td { (u.full_name) }
                                td { (templates::role_name(l, u.role)) }
                                td { (if u.sites.is_empty() { all_sites.clone() } else { u.sites.join(", ") }) }
                                td { (templates::when(&u.created_at)) }
                                td { (u.last_active_at.as_deref().map(templates::when).unwrap_or_else(|| "—".into())) }
                                td { @if let Some(r) = &u.revoked_at { (t(l, "admin-revoked")) (templates::when(r)) }
                                    @else if u.status == AccountStatus::Expired { (t(l, "admin-expired")) }
                                    @else if !u.password_set { (t(l, "admin-not-activated")) }
                                    @else { (t(l, "admin-active")) @if let Some(e) = &u.expires_at { (ta(l, "admin-expires", &[("at", templates::when(e).into())])) } } }
                                td { @if u.revoked_at.is_none() && u.name != s.user.name {
                                    a href=(format!("/admin/users/{}/revoke", u.name)) aria-label=(ta(l, "admin-revoke-user", &[("name", u.name.as_str().into())])) { (t(l, "admin-revoke-link")) } } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="trials-title" {
            h2 #trials-title { (t(l, "nav-trials")) }
            div.table-scroll role="region" aria-label=(t(l, "trials-table")) tabindex="0" {
                table {
                    thead { tr { th { (t(l, "trials-trial")) } th { (t(l, "trials-title")) } th { (t(l, "trials-status")) } th.num { (t(l, "admin-protocol-version")) } th.num { (t(l, "trials-enrolled")) } th { span.visually-hidden { (t(l, "admin-actions")) } } } }
                    tbody {
                        @for row in trials {
                            @let tr = &row.summary;
                            tr {
                                td { (tr.id) }
                                td { (row.title) }
                                td { (templates::trial_status(l, tr.status)) }
                                td.num { @if let Some(v) = row.version { (v) } }
                                td.num { (tr.enrolled) " / " (tr.cap) }
                                td { @if tr.status == TrialStatus::Open {
                                    a href=(format!("/admin/trials/{}/amend", tr.id)) aria-label=(ta(l, "amend-title", &[("trial", tr.id.as_str().into())])) { (t(l, "admin-amend-link")) }
                                    " · "
                                    a href=(format!("/admin/trials/{}/close", tr.id)) aria-label=(ta(l, "close-title", &[("trial", tr.id.as_str().into())])) { (t(l, "admin-close-link")) } } }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&t(l, "nav-admin"), Some(s), None, body)
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
        .map(|summary| {
            let runtime = state.trials.get(&summary.id).ok();
            TrialRow {
                version: runtime.as_ref().map(|t| t.version),
                title: runtime.map_or_else(
                    || summary.title.clone(),
                    |t| t.protocol.title_in(s.lang).to_string(),
                ),
                summary,
            }
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
    let l = session.lang;
    let flash = match (revoked, closed) {
        (Some(u), _) => Some(templates::notice(
            "ok",
            html! { (t(l, "flash-user")) strong { (u.name) } (t(l, "flash-revoked")) },
        )),
        (None, Some(tr)) => Some(templates::notice(
            "ok",
            html! { (t(l, "flash-trial")) strong { (tr.id) } (t(l, "flash-closed")) },
        )),
        (None, None) => amended.map(|r| {
            templates::notice(
                "ok",
                html! { (t(l, "flash-trial")) strong { (r.summary.id) } (ta(l, "flash-amended", &[("version", r.version.unwrap_or_default().into())])) },
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

pub(super) fn sites_of(text: &str) -> Vec<String> {
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
    let profile = users::Profile {
        // Required for people: the form always sends it, so an empty one is refused by name.
        full_name: Some(fields.value("full_name").to_string()),
        email: fields.filled("email").map(str::to_string),
        expires_at: fields.filled("expires_at").map(str::to_string),
    };
    let result = session
        .db(&state, move |c, user| {
            users::create_account(c, user, &name, &role, &sites, &profile)
        })
        .await;
    match result {
        Ok(created) => {
            let l = session.lang;
            let body = html! {
                h1 { (t(l, "admin-user-created")) }
                div.card {
                    dl.big {
                        dt { (t(l, "admin-name")) } dd { (created.name) }
                        dt { (t(l, "admin-role")) } dd { (templates::role_name(l, created.role)) }
                        dt { (t(l, "admin-sites")) } dd { (if created.sites.is_empty() { t(l, "admin-all-sites") } else { created.sites.join(", ") }) }
                    }
                    div.field {
                        label for="new-token" { (t(l, "admin-token")) }
                        input #new-token.token type="text" readonly value=(created.token) aria-describedby="token-warning";
                        button type="button" data-copy="new-token" hidden { (t(l, "admin-copy-token")) }
                    }
                    p.notice.warn #token-warning role="status" {
                        strong { (t(l, "admin-token-once")) }
                        (ta(l, "admin-token-give", &[("name", created.name.as_str().into())]))
                    }
                }
                p { a.button href="/admin" { (t(l, "admin-done")) } }
            };
            Ok(templates::ok(page(
                &t(l, "admin-user-created"),
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
    let l = session.lang;
    let body = html! {
        h1 { (ta(l, "admin-revoke-question", &[("name", name.as_str().into())])) }
        p { (t(l, "admin-revoke-explained")) }
        form method="post" action=(format!("/admin/users/{name}/revoke")) {
            (csrf_field(&session))
            div.actions {
                button.danger type="submit" { (ta(l, "admin-revoke-user", &[("name", name.as_str().into())])) }
                a href="/admin" { (t(l, "cancel")) }
            }
        }
    };
    Ok(templates::ok(page(
        &t(l, "admin-revoke-page-title"),
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
    let l = s.lang;
    let body = html! {
        h1 { (ta(l, "close-title", &[("trial", trial_id.into())])) }
        p.lead { (title) }
        p { (t(l, "close-explained")) }
        form method="post" action=(format!("/admin/trials/{trial_id}/close")) {
            (csrf_field(s))
            div.field {
                label for="reason" { (t(l, "col-reason")) }
                textarea #reason name="reason" rows="3" aria-invalid=[(!errors_at(errors, "reason").is_empty()).then_some("true")] { (fields.value("reason")) }
                (field_error(l, errors, "reason"))
            }
            div.field {
                label.choice {
                    input type="checkbox" name="reveal_seed" value="yes" checked[reveal];
                    (t(l, "close-reveal"))
                }
                p.hint { (t(l, "close-reveal-hint")) }
            }
            div.actions {
                button.primary type="submit" { (t(l, "review")) }
                a href="/admin" { (t(l, "cancel")) }
            }
        }
    };
    page(&t(l, "close-page-title"), Some(s), Some(trial_id), body)
}

pub async fn close_form(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::CloseTrial)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let l = session.lang;
    if session.trial_closed(&trial_id) {
        let body = html! {
            h1 { (ta(l, "close-title", &[("trial", trial_id.as_str().into())])) }
            p { (t(l, "close-already")) }
            p { a href="/admin" { (t(l, "back-to-admin")) } }
        };
        return Ok(templates::ok(page(
            &t(l, "close-page-title"),
            Some(&session),
            Some(&trial_id),
            body,
        )));
    }
    Ok(templates::ok(close_form_page(
        &session,
        &trial_id,
        trial.protocol.title_in(l),
        &Fields::default(),
        &[],
    )))
}

/// The confirmation of closing: what will happen, and the signature.
fn close_confirm_page(
    session: &WebSession,
    trial_id: &str,
    title: &str,
    reason: &str,
    reveal: bool,
    problem: Option<&str>,
) -> Markup {
    let l = session.lang;
    let meaning = Meaning::CloseTrial {
        trial_id: trial_id.to_string(),
    };
    let body = html! {
        h1 { (ta(l, "close-question", &[("trial", trial_id.into())])) }
        div.card.confirm {
            dl.big {
                dt { (t(l, "trials-trial")) } dd { (title) }
                dt { (t(l, "col-reason")) } dd { (reason) }
                dt { (t(l, "close-seed")) } dd { (if reveal { t(l, "close-seed-revealed") } else { t(l, "close-seed-secret") }) }
            }
            p { strong { (t(l, "close-cannot-undo")) } (t(l, "close-afterwards")) }
            form method="post" action=(format!("/admin/trials/{trial_id}/close")) {
                (csrf_field(session))
                input type="hidden" name="reason" value=(reason);
                @if reveal { input type="hidden" name="reveal_seed" value="yes"; }
                input type="hidden" name="confirm" value="yes";
                (signature::fields(l, &meaning, problem))
                div.actions {
                    button.danger type="submit" { (t(l, "close-now")) }
                    a href="/admin" { (t(l, "cancel")) }
                }
            }
        }
    };
    page(
        &t(l, "close-confirm-page-title"),
        Some(session),
        Some(trial_id),
        body,
    )
}

/// Two steps: the first POST shows what will happen; the second (`confirm=yes`) closes.
pub async fn close(
    req: HttpRequest,
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
                    trial.protocol.title_in(session.lang),
                    &fields,
                    &[FieldError::new("reason", message)],
                ),
            ));
        }
        return Ok(templates::ok(close_confirm_page(
            &session,
            &trial_id,
            trial.protocol.title_in(session.lang),
            &reason,
            reveal,
            None,
        )));
    }
    let signer = match signature::signer(&req, &state, &session, &fields).await {
        Ok(s) => s,
        Err(Refusal::Problem(p)) => {
            return Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                close_confirm_page(
                    &session,
                    &trial_id,
                    trial.protocol.title_in(session.lang),
                    &reason,
                    reveal,
                    Some(&p),
                ),
            ));
        }
        Err(Refusal::Error(e)) => return Err(session.fail(e)),
    };
    let t = trial.clone();
    let result = session
        .db(&state, move |c, user| {
            trials::close(c, &t, user, &reason, reveal, Some(&signer))
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
            close_form_page(
                &session,
                &trial_id,
                trial.protocol.title_in(session.lang),
                &fields,
                &errors,
            ),
        )),
        Err(e) => Err(e),
    }
}
