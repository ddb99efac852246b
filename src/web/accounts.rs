//! The admin's page of one account: what it is (role, sites, name, status, activity), a form
//! to change it (the API's PATCH, audited `user.changed`) and another token for it — a
//! rotation, or a reset of a forgotten password, shown once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};

use super::admin::{field_error, role_field, sites_of};
use super::error::WebError;
use super::form::Fields;
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::Permission;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::credentials::{self, TokenRequest};
use crate::service::users::{self, UserChange};
use crate::service::views::{AccountStatus, UserSummary};

async fn account(
    state: &web::Data<AppState>,
    session: &WebSession,
    name: &str,
) -> Result<UserSummary, WebError> {
    let name = name.to_string();
    session
        .db(state, move |c, user| users::get(c, user, &name))
        .await
}

fn status_text(u: &UserSummary) -> String {
    match u.status {
        AccountStatus::Revoked => "Revoked".into(),
        AccountStatus::Expired => "Expired".into(),
        AccountStatus::Active if !u.password_set => "Active, not activated yet".into(),
        AccountStatus::Active => "Active".into(),
    }
}

/// The date part of an RFC 3339 time, for a date input.
fn date_of(at: Option<&str>) -> String {
    at.map(|t| t.chars().take(10).collect()).unwrap_or_default()
}

fn account_page(
    s: &WebSession,
    u: &UserSummary,
    fields: Option<&Fields>,
    errors: &[FieldError],
    notice: Option<&str>,
) -> Markup {
    let value = |name: &str, current: String| match fields {
        Some(f) => f.value(name).to_string(),
        None => current,
    };
    let role = value("role", u.role.as_str().to_string());
    let invalid = |n: &str| {
        errors
            .iter()
            .any(|e| e.field == n || e.field.starts_with(&format!("{n}[")))
            .then_some("true")
    };
    let revoked = u.status == AccountStatus::Revoked;
    let l = s.lang;
    let body = html! {
        h1 { "Account " (u.name) }
        @if let Some(n) = notice { (templates::notice("ok", html! { (n) })) }
        @if errors.iter().any(|e| e.field.is_empty()) {
            div.notice.error role="alert" { "Nothing to change: every value is as it was." }
        }
        dl.meta {
            dt { "Full name" } dd { (if u.full_name.is_empty() { "—" } else { u.full_name.as_str() }) }
            dt { "Role" } dd { (u.role) }
            dt { "Sites" } dd { (if u.sites.is_empty() { "all".to_string() } else { u.sites.join(", ") }) }
            dt { "Status" } dd { (status_text(u)) }
            dt { "Created" } dd { (templates::when(&u.created_at)) }
            dt { "Last active" } dd { (u.last_active_at.as_deref().map(templates::when).unwrap_or_else(|| "—".into())) }
            @if let Some(e) = &u.expires_at { dt { "Expires" } dd { (templates::when(e)) } }
        }
        @if !revoked {
            section aria-labelledby="change-title" {
                h2 #change-title { "Change the account" }
                p { "A change is recorded in the audit trail with the old and new values and applies from the person's next request." }
                form method="post" action=(format!("/admin/users/{}", u.name)) {
                    (csrf_field(s))
                    div.row {
                        div.field {
                            label for="full_name" { "Full name" }
                            input #full_name name="full_name" value=(value("full_name", u.full_name.clone())) required
                                autocomplete="off" aria-invalid=[invalid("full_name")];
                            (field_error(l, errors, "full_name"))
                        }
                        (role_field(l, &role, errors))
                        div.field {
                            label for="sites" { "Sites" }
                            input #sites name="sites" value=(value("sites", u.sites.join(", "))) autocomplete="off"
                                aria-invalid=[invalid("sites")] aria-describedby="sites-hint";
                            p.hint #sites-hint { "Comma-separated; empty for all sites." }
                            (field_error(l, errors, "sites"))
                        }
                    }
                    div.row {
                        div.field {
                            label for="email" { "E-mail (optional)" }
                            input #email type="email" name="email" value=(value("email", u.email.clone().unwrap_or_default()))
                                autocomplete="off" aria-invalid=[invalid("email")];
                            (field_error(l, errors, "email"))
                        }
                        div.field.small {
                            label for="expires_at" { "Expires (optional)" }
                            input #expires_at type="date" name="expires_at" value=(value("expires_at", date_of(u.expires_at.as_deref())))
                                aria-invalid=[invalid("expires_at")];
                            (field_error(l, errors, "expires_at"))
                        }
                    }
                    button.primary type="submit" { "Save changes" }
                }
            }
            section aria-labelledby="token-title" {
                h2 #token-title { "Another token" }
                p { "For a system: a new bearer token, optionally expiring, optionally revoking the others. "
                    "For a person who forgot their password: reset it — their sessions end and the new token activates the account again." }
                form method="post" action=(format!("/admin/users/{}/token", u.name)) {
                    (csrf_field(s))
                    div.row {
                        div.field.small {
                            label for="token_expires_at" { "Token expires (optional)" }
                            input #token_expires_at type="date" name="token_expires_at" aria-invalid=[invalid("token_expires_at")];
                            (field_error(l, errors, "token_expires_at"))
                        }
                    }
                    div.field.check {
                        input #revoke_others type="checkbox" name="revoke_others" value="yes";
                        label for="revoke_others" { "Revoke the account's other tokens" }
                    }
                    div.field.check {
                        input #reset_password type="checkbox" name="reset_password" value="yes";
                        label for="reset_password" { "Reset the password (the person activates the account again)" }
                    }
                    button type="submit" { "Issue a token" }
                }
            }
        }
        p { a href="/admin" { "Back to users and trials" } }
    };
    page(&format!("Account {}", u.name), Some(s), None, body)
}

/// GET /admin/users/{name}.
pub async fn show(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::ManageUsers)?;
    let u = account(&state, &session, &path.into_inner()).await?;
    Ok(templates::ok(account_page(&session, &u, None, &[], None)))
}

/// POST /admin/users/{name}: the change, every refused field named at its input.
pub async fn change(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::ManageUsers)?;
    let name = path.into_inner();
    let change = UserChange {
        role: Some(fields.value("role").to_string()),
        sites: Some(sites_of(fields.value("sites"))),
        full_name: Some(fields.value("full_name").to_string()),
        email: Some(fields.filled("email").map(str::to_string)),
        expires_at: Some(fields.filled("expires_at").map(str::to_string)),
    };
    let who = name.clone();
    let result = session
        .db(&state, move |c, user| users::change(c, user, &who, &change))
        .await;
    match result {
        Ok(u) => Ok(templates::ok(account_page(
            &session,
            &u,
            None,
            &[],
            Some("The account is changed."),
        ))),
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => {
            let u = account(&state, &session, &name).await?;
            Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                account_page(&session, &u, Some(&fields), &errors, None),
            ))
        }
        Err(e) => Err(e),
    }
}

/// POST /admin/users/{name}/token: another token, shown once.
pub async fn issue_token(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::ManageUsers)?;
    let name = path.into_inner();
    let request = TokenRequest {
        expires_at: fields.filled("token_expires_at").map(str::to_string),
        revoke_others: fields.value("revoke_others") == "yes",
        reset_password: fields.value("reset_password") == "yes",
    };
    let who = name.clone();
    let result = session
        .db(&state, move |c, user| {
            credentials::issue_token(c, user, &who, &request)
        })
        .await;
    match result {
        Ok(issued) => {
            let body = html! {
                h1 { "A new token for " (issued.name) }
                div.card {
                    div.field {
                        label for="new-token" { (if issued.password_reset { "One-time activation token" } else { "Token" }) }
                        input #new-token.token type="text" readonly value=(issued.token) aria-describedby="token-warning";
                        button type="button" data-copy="new-token" hidden { "Copy token" }
                    }
                    p.notice.warn #token-warning role="status" {
                        strong { "This token is shown only once." }
                        @if issued.password_reset {
                            " The password is cleared and " (issued.name) "'s sessions have ended: they activate their account again with this token."
                        }
                        @if issued.revoked_tokens > 0 { " " (issued.revoked_tokens) " other token(s) were revoked." }
                        @if let Some(e) = &issued.expires_at { " It expires " (templates::when(e)) "." }
                    }
                }
                p { a.button href=(format!("/admin/users/{}", issued.name)) { "Done" } }
            };
            Ok(templates::ok(page("New token", Some(&session), None, body)))
        }
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => {
            let errors: Vec<FieldError> = errors
                .into_iter()
                .map(|e| {
                    if e.field == "expires_at" {
                        FieldError::new("token_expires_at", e.message)
                    } else {
                        e
                    }
                })
                .collect();
            let u = account(&state, &session, &name).await?;
            Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                account_page(&session, &u, None, &errors, None),
            ))
        }
        Err(e) => Err(e),
    }
}
