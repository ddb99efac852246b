//! Withdrawing a randomized subject from the trial: a required reason, a confirmation that
//! names the patient, then the use case; the subject's page shows the withdrawal. Two POSTs
//! to one address, like closing a trial: the first (no `confirm=yes`) only reviews.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};

use super::error::WebError;
use super::form::Fields;
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::Permission;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::SubjectStatus;
use crate::service::views::Allocation;
use crate::service::{allocation, queries};

fn action(trial_id: &str, subject_id: &str) -> String {
    format!("/trials/{trial_id}/subjects/{subject_id}/withdraw")
}

fn subject_page(trial_id: &str, subject_id: &str) -> String {
    format!("/trials/{trial_id}/subjects/{subject_id}")
}

/// The reason form, or why there is none (withdrawn already, trial closed).
fn form_page(
    s: &WebSession,
    trial_id: &str,
    a: &Allocation,
    fields: &Fields,
    errors: &[FieldError],
) -> Markup {
    let back = subject_page(trial_id, &a.subject_id);
    let body = html! {
        h1 { "Withdraw " (a.patient_ref) " from the trial" }
        dl.meta {
            dt { "Subject" } dd { (a.subject_id) }
            dt { "Site" } dd { (a.site) }
            dt { "Randomized" } dd { (s.when_at(&a.site, &a.randomized_at)) " by " (a.randomized_by) }
        }
        @if a.status == SubjectStatus::Withdrawn {
            (templates::notice("warn", withdrawn_text(s, a)))
        } @else if s.trial_closed(trial_id) {
            (templates::notice("warn", html! { "The trial is closed; no subject can be withdrawn." }))
        } @else {
            p { "The subject stays in their arm for the analysis (intention to treat); the withdrawal "
                "and its reason are recorded in the audit trail." }
            form method="post" action=(action(trial_id, &a.subject_id)) {
                (csrf_field(s))
                div.field {
                    label for="reason" { "Reason for the withdrawal" }
                    textarea #reason name="reason" rows="3" required
                        aria-invalid=[(!errors.is_empty()).then_some("true")]
                        aria-describedby=[(!errors.is_empty()).then_some("reason-error")] {
                        (fields.value("reason"))
                    }
                    @if !errors.is_empty() {
                        p.field-error #reason-error { @for e in errors { (e.message) " " } }
                    }
                }
                div.actions {
                    button.primary type="submit" { "Review" }
                    a href=(back) { "Cancel" }
                }
            }
        }
        p { a href=(back) { "Back to the subject" } }
    };
    page("Withdraw a subject", Some(s), Some(trial_id), body)
}

fn withdrawn_text(s: &WebSession, a: &Allocation) -> Markup {
    html! {
        "This subject is already withdrawn"
        @if let Some(at) = &a.withdrawn_at { " (" (s.when_at(&a.site, at)) @if let Some(by) = &a.withdrawn_by { ", by " (by) } ")" }
        "."
    }
}

/// 409: withdrawn before (another tab, another user); nothing was changed.
fn already_withdrawn(s: &WebSession, trial_id: &str, a: &Allocation) -> HttpResponse {
    let body = html! {
        h1 { "Already withdrawn" }
        p { (withdrawn_text(s, a)) " Nothing was changed." }
        p { a href=(subject_page(trial_id, &a.subject_id)) { "Back to the subject" } }
    };
    templates::respond(
        StatusCode::CONFLICT,
        page("Already withdrawn", Some(s), Some(trial_id), body),
    )
}

async fn subject(
    state: &web::Data<AppState>,
    session: &WebSession,
    trial_id: &str,
    subject_id: &str,
) -> Result<Allocation, WebError> {
    let trial = state.trials.get(trial_id).map_err(|e| session.fail(e))?;
    let id = subject_id.to_string();
    session
        .db(state, move |c, user| {
            queries::get_subject(c, &trial, user, &id)
        })
        .await
}

pub async fn form(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Withdraw)?;
    let (trial_id, subject_id) = path.into_inner();
    let a = subject(&state, &session, &trial_id, &subject_id).await?;
    Ok(templates::ok(form_page(
        &session,
        &trial_id,
        &a,
        &Fields::default(),
        &[],
    )))
}

/// The review (reason checked, the patient named) or, with `confirm=yes`, the withdrawal.
pub async fn submit(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::Withdraw)?;
    let (trial_id, subject_id) = path.into_inner();
    let a = subject(&state, &session, &trial_id, &subject_id).await?;
    if a.status == SubjectStatus::Withdrawn {
        return Ok(already_withdrawn(&session, &trial_id, &a));
    }
    let reason = fields.value("reason").to_string();
    let refused = |errors: &[FieldError]| {
        templates::respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(&session, &trial_id, &a, &fields, errors),
        )
    };
    if fields.value("confirm") != "yes" {
        // The use case's own rule for reasons, so that the confirmation never shows one it
        // would refuse.
        let checked = match crate::text::check_reason(&reason, crate::text::MAX_REASON_CHARS) {
            Ok(checked) => checked,
            Err(message) => return Ok(refused(&[FieldError::new("reason", message)])),
        };
        let body = html! {
            h1 { "Withdraw patient " (a.patient_ref) " (subject " (a.subject_id) ")? This cannot be undone." }
            div.card.confirm {
                dl.big {
                    dt { "Patient" } dd { (a.patient_ref) " (site " (a.site) ")" }
                    dt { "Subject" } dd { (a.subject_id) }
                    dt { "Reason" } dd.reason { (checked) }
                }
                form method="post" action=(action(&trial_id, &a.subject_id)) {
                    (csrf_field(&session))
                    input type="hidden" name="reason" value=(reason);
                    input type="hidden" name="confirm" value="yes";
                    div.actions {
                        button.danger type="submit" { "Withdraw " (a.patient_ref) }
                        a href=(subject_page(&trial_id, &a.subject_id)) { "Cancel" }
                    }
                }
            }
        };
        return Ok(templates::ok(page(
            "Confirm withdrawal",
            Some(&session),
            Some(&trial_id),
            body,
        )));
    }
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let id = a.subject_id.clone();
    let result = session
        .db(&state, move |c, user| {
            allocation::withdraw(c, &trial, user, &id, &reason)
        })
        .await;
    match result {
        Ok(w) => Ok(templates::see_other(&subject_page(
            &trial_id,
            &w.subject_id,
        ))),
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => Ok(refused(&errors)),
        // Withdrawn by someone else between the read above and the write.
        Err(WebError::Page {
            error: ApiError::AlreadyWithdrawn(_),
            ..
        }) => {
            let now = subject(&state, &session, &trial_id, &subject_id).await?;
            Ok(already_withdrawn(&session, &trial_id, &now))
        }
        Err(e) => Err(e),
    }
}
