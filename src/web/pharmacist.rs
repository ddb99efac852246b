//! Pharmacist pages: the queue of eligible patients awaiting randomization, the
//! confirmation step, the allocation card. A fresh random idempotency key is embedded in
//! the confirmation form, so a double click, a reload or a resubmission returns the same
//! allocation. Nothing here shows the randomization design.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::html;

use super::error::WebError;
use super::form::Fields;
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use super::viewer::Viewer;
use crate::access::{Permission, Role};
use crate::eligibility::Outcome;
use crate::eligibility::Sex;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::SubjectStatus;
use crate::service::allocation;
use crate::service::queries::{self, ScreeningFilter, MAX_LIMIT};
use crate::service::receipts::{self, LogSigner};
use crate::service::views::{Allocation, ScreeningView};

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
    let body = html! {
        h1 { "Randomization queue" }
        p.lead { "Eligible patients of your sites who are not randomized yet." }
        @if rows.is_empty() {
            p.empty { "No patient is waiting." }
        } @else {
            div.table-scroll role="region" aria-label="Table: Randomization queue" tabindex="0" {
                table.queue {
                    // The action right after who it is for: on a phone both are in view
                    // without scrolling the table.
                    thead { tr { th { "Patient" } @if !closed { th { span.visually-hidden { "Action" } } }
                        th { "Initials" } th { "Born" } th { "Sex" } th { "Site" } th { "Screening date" } th { "Screened by" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { a href=(format!("/trials/{trial_id}/screenings/{}", r.id)) { (r.patient_ref) } }
                                @if !closed {
                                    td { a.button href=(format!("/trials/{trial_id}/randomize/{}", r.id))
                                        aria-label=(format!("Randomize {}", r.patient_ref)) { "Randomize" } }
                                }
                                td { (r.initials.as_deref().unwrap_or("—")) }
                                td { (r.birth_date) }
                                td { (sex_text(r.sex)) }
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
        "Randomization queue",
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
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let id = screening_id.clone();
    let v = session
        .db(&state, move |c, user| {
            queries::get_screening(c, &trial, user, &id)
        })
        .await?;
    let key = uuid::Uuid::new_v4().to_string();
    let closed = session.trial_closed(&trial_id);
    let ready = !closed && v.subject_id.is_none() && v.latest && v.outcome == Outcome::Eligible;
    let body = html! {
        h1 { "Confirm randomization" }
        @if closed {
            (templates::notice("warn", html! { "The trial is closed; no patient can be randomized." }))
        } @else if let Some(sub) = &v.subject_id {
            (templates::notice("warn", html! { "This patient is already randomized as "
                a href=(format!("/trials/{trial_id}/subjects/{sub}")) { (sub) } "." }))
        } @else if !v.latest {
            (templates::notice("warn", html! { "A later screening of this patient exists; randomize from the queue." }))
        } @else if v.outcome != Outcome::Eligible {
            (templates::notice("warn", html! { "This screening is not eligible; the patient cannot be randomized." }))
        }
        div.card.confirm {
            p { "You are about to randomize:" }
            dl.big {
                dt { "Patient" } dd { (v.patient_ref) }
                dt { "Initials" } dd.initials { (v.initials.as_deref().unwrap_or("not recorded")) }
                dt { "Date of birth" } dd { (v.birth_date) }
                dt { "Sex" } dd { (sex_text(v.sex)) }
                dt { "Site" } dd { (v.site) }
                dt { "Screening date" } dd { (v.screening_date) }
                dt { "Screened by" } dd { (v.screened_by) }
                dt { "Outcome" } dd { (templates::outcome_badge(v.outcome)) }
            }
            @if ready {
                p { "Check the patient's identity against these initials, date of birth and sex. "
                    "The allocation is final and is recorded in the audit trail." }
                form method="post" action=(format!("/trials/{trial_id}/randomize/{screening_id}")) {
                    (csrf_field(&session))
                    input type="hidden" name=(KEY_FIELD) value=(key);
                    div.actions {
                        button.primary type="submit" { "Randomize " (v.patient_ref) }
                        a href=(format!("/trials/{trial_id}/queue")) { "Cancel" }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page(
        "Confirm randomization",
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

/// Randomizes with the form's idempotency key; a repeat of the same form gives the same
/// allocation. Either way the browser is sent to the allocation card.
pub async fn randomize(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::Randomize)?;
    let (trial_id, screening_id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let key = fields.value(KEY_FIELD).to_string();
    let result = session
        .db(&state, move |c, user| {
            allocation::randomize(c, &trial, user, &screening_id, Some(&key))
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
            let body = html! {
                h1 { "Already randomized" }
                p { "This patient was already randomized as "
                    a href=(format!("/trials/{trial_id}/subjects/{subject_id}")) { (subject_id) }
                    ". No new allocation was made." }
                p { a href=(format!("/trials/{trial_id}/queue")) { "Back to the queue" } }
            };
            Ok(templates::respond(
                StatusCode::CONFLICT,
                page("Already randomized", Some(&session), Some(&trial_id), body),
            ))
        }
        Err(e) => Err(e),
    }
}

/// A sex as the pages show it.
fn sex_text(sex: Option<Sex>) -> &'static str {
    match sex {
        Some(Sex::Female) => "Female",
        Some(Sex::Male) => "Male",
        Some(Sex::Other) => "Other",
        None => "—",
    }
}

fn card(viewer: &Viewer, trial_id: &str, a: &Allocation, s: &ScreeningView) -> maud::Markup {
    html! {
        article.card.allocation aria-labelledby="allocation-title" {
            h1 #allocation-title { "Allocation" }
            dl.big {
                dt { "Subject" } dd.subject { (a.subject_id) }
                dt { "Arm" } dd.arm { (a.arm_name) }
                dt { "Patient" } dd { (a.patient_ref) " (site " (a.site) ")" }
                dt { "Initials · born · sex" } dd.identity {
                    (s.initials.as_deref().unwrap_or("—")) " · " (s.birth_date) " · " (sex_text(s.sex)) }
                dt { "Randomized" } dd { (viewer.when_at(&a.site, &a.randomized_at)) }
                dt { "By" } dd { (a.randomized_by) }
                dt { "Trial" } dd { (trial_id) }
                @if a.status == SubjectStatus::Withdrawn {
                    dt { "Status" } dd.withdrawn { "Withdrawn"
                        @if let Some(w) = &a.withdrawn_at { " on " (viewer.when_at(&a.site, w)) }
                        @if let Some(by) = &a.withdrawn_by { " by " (by) } }
                    @if let Some(reason) = &a.withdrawal_reason { dt { "Reason" } dd.reason { (reason) } }
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
    let (a, screening) = session
        .db(&state, move |c, user| {
            queries::subject_with_screening(c, &trial, user, &subject_id)
        })
        .await?;
    let body = html! {
        (card(&session, &trial_id, &a, &screening))
        p.no-print {
            "The receipt proves to anyone with the trial's public key that this allocation is "
            "in the audit log and was never changed: "
            code { "trialgate receipt verify FILE --public-key KEY" } "."
        }
        div.actions.no-print {
            button type="button" data-print hidden { "Print" }
            a href=(format!("/trials/{trial_id}/subjects/{}/receipt", a.subject_id)) download {
                "Download the receipt"
            }
            @if session.user.role == Role::Pharmacist {
                a href=(format!("/trials/{trial_id}/queue")) { "Back to the queue" }
            }
            @if a.status == SubjectStatus::OnStudy && session.may(Permission::Withdraw) && !session.trial_closed(&trial_id) {
                a.button.danger href=(format!("/trials/{trial_id}/subjects/{}/withdraw", a.subject_id)) { "Withdraw from the trial" }
            }
        }
    };
    Ok(templates::ok(page(
        &format!("Allocation {}", a.subject_id),
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
    let rows = session
        .db(&state, move |c, user| {
            queries::list_subjects(c, &trial, user)
        })
        .await?;
    let body = html! {
        h1 { "Allocations" }
        @if rows.is_empty() {
            p.empty { "No patient randomized yet." }
        } @else {
            div.table-scroll role="region" aria-label="Table: Allocations" tabindex="0" {
                table {
                    thead { tr { th { "Subject" } th { "Patient" } th { "Site" } th { "Arm" } th { "Randomized" } th { "By" } th { "Status" } } }
                    tbody {
                        @for a in &rows {
                            tr {
                                td { a href=(format!("/trials/{trial_id}/subjects/{}", a.subject_id)) { (a.subject_id) } }
                                td { (a.patient_ref) }
                                td { (a.site) }
                                td { (a.arm_name) }
                                td { (session.when_at(&a.site, &a.randomized_at)) }
                                td { (a.randomized_by) }
                                td { (if a.status == SubjectStatus::Withdrawn { "Withdrawn" } else { "On study" }) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page(
        "Allocations",
        Some(&session),
        Some(&trial_id),
        body,
    )))
}
