//! Withdrawing a randomized subject from the trial: a required reason, a confirmation that
//! names the patient, then the use case; the subject's page shows the withdrawal. Two POSTs
//! to one address, like closing a trial: the first (no `confirm=yes`) only reviews.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::error::WebError;
use super::form::Fields;
use super::i18n::{t, ta};
use super::session::WebSession;
use super::signature::{self, Refusal};
use super::templates::{self, csrf_field, page};
use crate::access::Permission;
use crate::audit::signature::Meaning;
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
    let l = s.lang;
    let body = html! {
        h1 { (ta(l, "withdraw-title", &[("patient", a.patient_ref.as_str().into())])) }
        dl.meta {
            dt { (t(l, "col-subject")) } dd { (a.subject_id) }
            dt { (t(l, "label-site")) } dd { (a.site) }
            dt { (t(l, "col-randomized")) } dd { (s.when_at(&a.site, &a.randomized_at)) (t(l, "meta-by")) (a.randomized_by) }
        }
        @if a.status == SubjectStatus::Withdrawn {
            (templates::notice("warn", withdrawn_text(s, a)))
        } @else if s.trial_closed(trial_id) {
            (templates::notice("warn", html! { (t(l, "withdraw-closed")) }))
        } @else {
            p { (t(l, "withdraw-explained")) }
            form method="post" action=(action(trial_id, &a.subject_id)) {
                (csrf_field(s))
                div.field {
                    label for="reason" { (t(l, "withdraw-reason")) }
                    textarea #reason name="reason" rows="3" required
                        aria-invalid=[(!errors.is_empty()).then_some("true")]
                        aria-describedby=[(!errors.is_empty()).then_some("reason-error")] {
                        (fields.value("reason"))
                    }
                    @if !errors.is_empty() {
                        p.field-error #reason-error { @for e in errors { (super::messages::field(l, &e.message)) " " } }
                    }
                }
                div.actions {
                    button.primary type="submit" { (t(l, "review")) }
                    a href=(back) { (t(l, "cancel")) }
                }
            }
        }
        p { a href=(back) { (t(l, "back-to-subject")) } }
    };
    page(&t(l, "withdraw-page-title"), Some(s), Some(trial_id), body)
}

fn withdrawn_text(s: &WebSession, a: &Allocation) -> Markup {
    let l = s.lang;
    html! {
        (t(l, "already-withdrawn"))
        @if let Some(at) = &a.withdrawn_at { (t(l, "paren-open")) (s.when_at(&a.site, at)) @if let Some(by) = &a.withdrawn_by { (t(l, "comma-by")) (by) } (t(l, "paren-close")) }
        (t(l, "full-stop"))
    }
}

/// 409: withdrawn before (another tab, another user); nothing was changed.
fn already_withdrawn(s: &WebSession, trial_id: &str, a: &Allocation) -> HttpResponse {
    let l = s.lang;
    let body = html! {
        h1 { (t(l, "title-already-withdrawn")) }
        p { (withdrawn_text(s, a)) (t(l, "nothing-was-changed")) }
        p { a href=(subject_page(trial_id, &a.subject_id)) { (t(l, "back-to-subject")) } }
    };
    templates::respond(
        StatusCode::CONFLICT,
        page(
            &t(l, "title-already-withdrawn"),
            Some(s),
            Some(trial_id),
            body,
        ),
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

/// The confirmation: the patient named, the reason as it will be kept, the signature.
fn confirm_page(
    session: &WebSession,
    trial_id: &str,
    a: &Allocation,
    reason: &str,
    checked: &str,
    problem: Option<&str>,
) -> Markup {
    let l = session.lang;
    let body = html! {
        h1 { (ta(l, "withdraw-confirm-title", &[("patient", a.patient_ref.as_str().into()), ("subject", a.subject_id.as_str().into())])) }
        div.card.confirm {
            dl.big {
                dt { (t(l, "col-patient")) } dd { (a.patient_ref) (ta(l, "card-site", &[("site", a.site.as_str().into())])) }
                dt { (t(l, "col-subject")) } dd { (a.subject_id) }
                dt { (t(l, "col-reason")) } dd.reason { (checked) }
            }
            form method="post" action=(action(trial_id, &a.subject_id)) {
                (csrf_field(session))
                input type="hidden" name="reason" value=(reason);
                input type="hidden" name="confirm" value="yes";
                (signature::fields(l, &Meaning::Withdraw { subject_id: a.subject_id.clone() }, problem))
                div.actions {
                    button.danger type="submit" { (ta(l, "withdraw-patient", &[("patient", a.patient_ref.as_str().into())])) }
                    a href=(subject_page(trial_id, &a.subject_id)) { (t(l, "cancel")) }
                }
            }
        }
    };
    page(
        &t(l, "withdraw-confirm-page-title"),
        Some(session),
        Some(trial_id),
        body,
    )
}

/// The review (reason checked, the patient named) or, with `confirm=yes`, the withdrawal.
pub async fn submit(
    req: HttpRequest,
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
        return Ok(templates::ok(confirm_page(
            &session, &trial_id, &a, &reason, &checked, None,
        )));
    }
    let signer = match signature::signer(&req, &state, &session, &fields).await {
        Ok(s) => s,
        Err(Refusal::Problem(p)) => {
            let checked = crate::text::check_reason(&reason, crate::text::MAX_REASON_CHARS)
                .unwrap_or_else(|_| reason.clone());
            return Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                confirm_page(&session, &trial_id, &a, &reason, &checked, Some(&p)),
            ));
        }
        Err(Refusal::Error(e)) => return Err(session.fail(e)),
    };
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let id = a.subject_id.clone();
    let result = session
        .db(&state, move |c, user| {
            allocation::withdraw(c, &trial, user, &id, &reason, Some(&signer))
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
