//! Pharmacist pages: the queue of eligible patients awaiting randomization, the
//! confirmation step, the allocation card. A fresh random idempotency key is embedded in
//! the confirmation form, so a double click, a reload or a resubmission returns the same
//! allocation. Nothing here shows the randomization design.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::error::WebError;
use super::form::Fields;
use super::i18n::{t, ta, Lang};
use super::session::WebSession;
use super::signature::{self, Refusal};
use super::templates::{self, csrf_field, page};
use super::viewer::Viewer;
use crate::access::{Permission, Role};
use crate::audit::signature::Meaning;
use crate::eligibility::Outcome;
use crate::eligibility::Sex;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::SubjectStatus;
use crate::service::allocation;
use crate::service::queries::{self, ScreeningFilter, MAX_LIMIT};
use crate::service::receipts::{self, LogSigner};
use crate::service::views::{Allocation, ScreeningView};
use crate::service::TrialRuntime;

/// The form field carrying the idempotency key.
const KEY_FIELD: &str = "idempotency_key";

/// Eligible patients of the user's sites not yet randomized, oldest screening last.
pub async fn queue(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Randomize)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let filter = ScreeningFilter {
        outcome: Some(Outcome::Eligible.as_str().into()),
        randomized: Some(false),
        limit: MAX_LIMIT,
        ..ScreeningFilter::default()
    };
    let rows = session
        .db(&state, move |c, user| {
            queries::list_screenings(c, &trial, user, &filter)
        })
        .await?;
    let closed = session.trial_closed(&trial_id);
    let l = session.lang;
    let body = html! {
        h1 { (t(l, "nav-queue")) }
        p.lead { (t(l, "queue-lead")) }
        @if rows.is_empty() {
            p.empty { (t(l, "queue-empty")) }
        } @else {
            div.table-scroll role="region" aria-label=(t(l, "queue-table")) tabindex="0" {
                table.queue {
                    // The action right after who it is for: on a phone both are in view
                    // without scrolling the table.
                    thead { tr { th { (t(l, "col-patient")) } @if !closed { th { span.visually-hidden { (t(l, "col-action")) } } }
                        th { (t(l, "label-initials")) } th { (t(l, "col-born")) } th { (t(l, "label-sex")) } th { (t(l, "label-site")) } th { (t(l, "label-screening-date")) } th { (t(l, "col-screened-by")) } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { a href=(format!("/trials/{trial_id}/screenings/{}", r.id)) { (r.patient_ref) } }
                                @if !closed {
                                    td { a.button href=(format!("/trials/{trial_id}/randomize/{}", r.id))
                                        aria-label=(ta(l, "randomize-patient", &[("patient", r.patient_ref.as_str().into())])) { (t(l, "randomize-button")) } }
                                }
                                td { (r.initials.as_deref().unwrap_or("—")) }
                                td { (r.birth_date) }
                                td { (sex_text(l, r.sex)) }
                                td { (r.site) }
                                td { (r.screening_date) }
                                td { (r.screened_by) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page(
        &t(l, "nav-queue"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

/// The confirmation step: who is about to be randomized.
pub async fn confirm(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Randomize)?;
    let (trial_id, screening_id) = path.into_inner();
    confirm_page(&state, &session, trial_id, screening_id, None).await
}

/// The confirmation page; `problem` is a refused signature, shown at its field.
async fn confirm_page(
    state: &web::Data<AppState>,
    session: &WebSession,
    trial_id: String,
    screening_id: String,
    problem: Option<String>,
) -> Result<HttpResponse, WebError> {
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let id = screening_id.clone();
    let v = session
        .db(state, move |c, user| {
            queries::get_screening(c, &trial, user, &id)
        })
        .await?;
    let key = uuid::Uuid::new_v4().to_string();
    let closed = session.trial_closed(&trial_id);
    let ready = !closed && v.subject_id.is_none() && v.latest && v.outcome == Outcome::Eligible;
    let l = session.lang;
    let body = html! {
        h1 { (t(l, "confirm-title")) }
        @if closed {
            (templates::notice("warn", html! { (t(l, "confirm-closed")) }))
        } @else if let Some(sub) = &v.subject_id {
            (templates::notice("warn", html! { (t(l, "confirm-already"))
                a href=(format!("/trials/{trial_id}/subjects/{sub}")) { (sub) } (t(l, "full-stop")) }))
        } @else if !v.latest {
            (templates::notice("warn", html! { (t(l, "confirm-later")) }))
        } @else if v.outcome != Outcome::Eligible {
            (templates::notice("warn", html! { (t(l, "confirm-not-eligible")) }))
        }
        div.card.confirm {
            p { (t(l, "confirm-about-to")) }
            dl.big {
                dt { (t(l, "col-patient")) } dd { (v.patient_ref) }
                dt { (t(l, "label-initials")) } dd.initials { (v.initials.clone().unwrap_or_else(|| t(l, "not-recorded"))) }
                dt { (t(l, "label-birth-date")) } dd { (v.birth_date) }
                dt { (t(l, "label-sex")) } dd { (sex_text(l, v.sex)) }
                dt { (t(l, "label-site")) } dd { (v.site) }
                dt { (t(l, "label-screening-date")) } dd { (v.screening_date) }
                dt { (t(l, "col-screened-by")) } dd { (v.screened_by) }
                dt { (t(l, "col-outcome")) } dd { (templates::outcome_badge(l, v.outcome)) }
            }
            @if ready {
                p { (t(l, "confirm-check")) }
                form method="post" action=(format!("/trials/{trial_id}/randomize/{screening_id}")) {
                    (csrf_field(session))
                    input type="hidden" name=(KEY_FIELD) value=(key);
                    (signature::fields(l, &Meaning::Randomize { patient_ref: v.patient_ref.clone() }, problem.as_deref()))
                    div.actions {
                        button.primary type="submit" { (ta(l, "randomize-patient", &[("patient", v.patient_ref.as_str().into())])) }
                        a href=(format!("/trials/{trial_id}/queue")) { (t(l, "cancel")) }
                    }
                }
            }
        }
    };
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(templates::respond(
        status,
        page(&t(l, "confirm-title"), Some(session), Some(&trial_id), body),
    ))
}

/// Randomizes with the form's idempotency key; a repeat of the same form gives the same
/// allocation. Either way the browser is sent to the allocation card.
pub async fn randomize(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::Randomize)?;
    let (trial_id, screening_id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let signer = match signature::signer(&req, &state, &session, &fields).await {
        Ok(s) => s,
        Err(Refusal::Problem(p)) => {
            return confirm_page(&state, &session, trial_id, screening_id, Some(p)).await
        }
        Err(Refusal::Error(e)) => return Err(session.fail(e)),
    };
    let key = fields.value(KEY_FIELD).to_string();
    let result = session
        .db(&state, move |c, user| {
            allocation::randomize(c, &trial, user, &screening_id, Some(&key), Some(&signer))
        })
        .await;
    match result {
        Ok(r) => {
            if !r.replayed {
                state
                    .metrics
                    .allocations
                    .with_label_values(&[&trial_id])
                    .inc();
            }
            Ok(templates::see_other(&format!(
                "/trials/{trial_id}/subjects/{}",
                r.allocation.subject_id
            )))
        }
        Err(WebError::Page {
            error: ApiError::AlreadyRandomized { subject_id, .. },
            ..
        }) => {
            let l = session.lang;
            let body = html! {
                h1 { (t(l, "title-already-randomized")) }
                p { (t(l, "already-was"))
                    a href=(format!("/trials/{trial_id}/subjects/{subject_id}")) { (subject_id) }
                    (t(l, "already-no-new")) }
                p { a href=(format!("/trials/{trial_id}/queue")) { (t(l, "back-to-queue")) } }
            };
            Ok(templates::respond(
                StatusCode::CONFLICT,
                page(
                    &t(l, "title-already-randomized"),
                    Some(&session),
                    Some(&trial_id),
                    body,
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

/// A sex as the pages show it.
fn sex_text(l: Lang, sex: Option<Sex>) -> String {
    match sex {
        Some(Sex::Female) => t(l, "sex-female"),
        Some(Sex::Male) => t(l, "sex-male"),
        Some(Sex::Other) => t(l, "sex-other"),
        None => "—".into(),
    }
}

/// An arm's name in the viewer's language, as the protocol gives it.
pub(super) fn arm_name<'a>(l: Lang, trial: &'a TrialRuntime, a: &'a Allocation) -> &'a str {
    trial
        .protocol
        .arm(&a.arm)
        .map_or(a.arm_name.as_str(), |arm| arm.name_in(l))
}

fn card(viewer: &Viewer, trial: &TrialRuntime, a: &Allocation, s: &ScreeningView) -> maud::Markup {
    let l = viewer.lang;
    let trial_id = &trial.protocol.id;
    html! {
        article.card.allocation aria-labelledby="allocation-title" {
            h1 #allocation-title { (t(l, "card-title")) }
            dl.big {
                dt { (t(l, "col-subject")) } dd.subject { (a.subject_id) }
                dt { (t(l, "col-arm")) } dd.arm { (arm_name(l, trial, a)) }
                dt { (t(l, "col-patient")) } dd { (a.patient_ref) (ta(l, "card-site", &[("site", a.site.as_str().into())])) }
                dt { (t(l, "card-identity")) } dd.identity {
                    (s.initials.as_deref().unwrap_or("—")) " · " (s.birth_date) " · " (sex_text(l, s.sex)) }
                dt { (t(l, "col-randomized")) } dd { (viewer.when_at(&a.site, &a.randomized_at)) }
                dt { (t(l, "col-by")) } dd { (a.randomized_by) }
                dt { (t(l, "trials-trial")) } dd { (trial_id) }
                @if let Some(sig) = &a.randomization_signature {
                    (signature::manifestation(l, &t(l, "sig-signature"), sig, &viewer.when_at(&a.site, &sig.signed_at)))
                }
                @if a.status == SubjectStatus::Withdrawn {
                    dt { (t(l, "trials-status")) } dd.withdrawn { (t(l, "status-withdrawn"))
                        @if let Some(w) = &a.withdrawn_at { (t(l, "meta-on")) (viewer.when_at(&a.site, w)) }
                        @if let Some(by) = &a.withdrawn_by { (t(l, "meta-by")) (by) } }
                    @if let Some(reason) = &a.withdrawal_reason { dt { (t(l, "col-reason")) } dd.reason { (reason) } }
                    @if let Some(sig) = &a.withdrawal_signature {
                        (signature::manifestation(l, &t(l, "sig-withdrawal-signature"), sig, &viewer.when_at(&a.site, &sig.signed_at)))
                    }
                }
            }
        }
    }
}

/// The allocation card, printable.
pub async fn card_page(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (trial_id, subject_id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let tr = trial.clone();
    let (a, screening) = session
        .db(&state, move |c, user| {
            queries::subject_with_screening(c, &tr, user, &subject_id)
        })
        .await?;
    let l = session.lang;
    let body = html! {
        (card(&session, &trial, &a, &screening))
        p.no-print {
            (t(l, "receipt-explained"))
            code { "trialgate receipt verify FILE --public-key KEY" } (t(l, "full-stop"))
        }
        div.actions.no-print {
            button type="button" data-print hidden { (t(l, "print")) }
            a href=(format!("/trials/{trial_id}/subjects/{}/receipt", a.subject_id)) download {
                (t(l, "download-receipt"))
            }
            @if session.user.role == Role::Pharmacist {
                a href=(format!("/trials/{trial_id}/queue")) { (t(l, "back-to-queue")) }
            }
            @if a.status == SubjectStatus::OnStudy && session.may(Permission::Withdraw) && !session.trial_closed(&trial_id) {
                a.button.danger href=(format!("/trials/{trial_id}/subjects/{}/withdraw", a.subject_id)) { (t(l, "withdraw-button")) }
            }
        }
    };
    Ok(templates::ok(page(
        &ta(
            l,
            "card-page-title",
            &[("subject", a.subject_id.as_str().into())],
        ),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

/// The allocation's receipt, as a JSON download (the API's receipt, for a browser session).
pub async fn receipt(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (trial_id, subject_id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let (key, origin) = (state.checkpoint_key.clone(), state.log_origin.clone());
    let receipt = session
        .db(&state, move |c, user| {
            let signer = LogSigner {
                key: &key,
                origin: &origin,
            };
            receipts::receipt(c, &trial, user, &signer, &subject_id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"receipt-{}.json\"",
                receipt.subject_id
            ),
        ))
        .json(receipt))
}

/// The allocations of the user's sites, in order.
pub async fn subjects(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let tr = trial.clone();
    let rows = session
        .db(&state, move |c, user| queries::list_subjects(c, &tr, user))
        .await?;
    let l = session.lang;
    let body = html! {
        h1 { (t(l, "nav-allocations")) }
        @if rows.is_empty() {
            p.empty { (t(l, "allocations-empty")) }
        } @else {
            div.table-scroll role="region" aria-label=(t(l, "allocations-table")) tabindex="0" {
                table {
                    thead { tr { th { (t(l, "col-subject")) } th { (t(l, "col-patient")) } th { (t(l, "label-site")) } th { (t(l, "col-arm")) } th { (t(l, "col-randomized")) } th { (t(l, "col-by")) } th { (t(l, "trials-status")) } } }
                    tbody {
                        @for a in &rows {
                            tr {
                                td { a href=(format!("/trials/{trial_id}/subjects/{}", a.subject_id)) { (a.subject_id) } }
                                td { (a.patient_ref) }
                                td { (a.site) }
                                td { (arm_name(l, &trial, a)) }
                                td { (session.when_at(&a.site, &a.randomized_at)) }
                                td { (a.randomized_by) }
                                td { (if a.status == SubjectStatus::Withdrawn { t(l, "status-withdrawn") } else { t(l, "status-on-study") }) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page(
        &t(l, "nav-allocations"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}
