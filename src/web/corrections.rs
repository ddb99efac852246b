//! Corrections as monitors see them: the approvals queue (old → new values, why, who) with
//! approve and reject forms, and the deviations list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde_json::Value;

use super::error::WebError;
use super::form::Fields;
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::Permission;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::{CorrectionStatus, Decision, DeviationKind};
use crate::service::corrections::{self, CorrectionView, DecisionRequest, DeviationView};

/// A stored value as a person reads it: `11.2 g/dL`, `yes`, `—` for "not given".
pub fn shown(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::String(s) => s.clone(),
        // 112.0 is stored for 112: shown as typed.
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Object(m) => {
            let part = |k: &str| m.get(k).map(shown);
            match (part("value"), part("uln"), part("unit")) {
                (Some(v), Some(uln), Some(unit)) => format!("{v} {unit} (ULN {uln})"),
                (Some(v), None, Some(unit)) => format!("{v} {unit}"),
                _ => value.to_string(),
            }
        }
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
    }
}

pub fn deviation_text(kind: DeviationKind) -> &'static str {
    match kind {
        DeviationKind::IneligibleRandomized => "Randomized but not eligible",
        DeviationKind::Misstratified => "Randomized in the wrong stratum",
    }
}

pub fn status_text(status: CorrectionStatus) -> &'static str {
    match status {
        CorrectionStatus::Applied => "Applied",
        CorrectionStatus::Pending => "Waiting for a monitor",
        CorrectionStatus::Approved => "Approved",
        CorrectionStatus::Rejected => "Rejected",
    }
}

/// The old → new table of a correction, each field named as the screening form names it.
pub fn changes_table(c: &CorrectionView) -> Markup {
    let labels: std::collections::BTreeMap<String, String> =
        super::screening_form::labels().into_iter().collect();
    html! {
        div.table-scroll role="region" aria-label="Table: Changes" tabindex="0" {
            table.changes {
                thead { tr { th { "Field" } th { "Was" } th { "Corrected to" } } }
                tbody {
                    @for ch in &c.changes {
                        tr {
                            td { @match labels.get(&ch.field) { Some(l) => (l), None => code { (ch.field) } } }
                            td { (shown(&ch.old)) } td { (shown(&ch.new)) }
                        }
                    }
                }
            }
        }
    }
}

fn decision_form(
    trial_id: &str,
    c: &CorrectionView,
    session: &WebSession,
    errors: &[FieldError],
) -> Markup {
    let id = &c.screening.id;
    let error = errors.iter().find(|e| e.field == "reason");
    let error_id = format!("reason-{id}-error");
    html! {
        form.decision method="post" action=(format!("/trials/{trial_id}/corrections/{id}/decision")) {
            (csrf_field(session))
            div.field {
                label for=(format!("reason-{id}")) { "Reason for your decision" }
                textarea id=(format!("reason-{id}")) name="reason" rows="2" required
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())] {}
                @if let Some(e) = error { p.field-error id=(error_id) { (e.message) } }
            }
            div.actions {
                button.primary type="submit" name="decision" value="approve" { "Approve correction" }
                button type="submit" name="decision" value="reject" { "Reject correction" }
            }
        }
    }
}

fn queue_page(
    trial_id: &str,
    session: &WebSession,
    pending: &[CorrectionView],
    deviations: &[DeviationView],
    errors: &[FieldError],
) -> Markup {
    html! {
        h1 { "Corrections to approve" }
        p { "A correction of a randomized patient's screening takes effect only once a monitor "
            "approves it. The subject keeps the arm and stratum allocated (intention to treat); "
            "an approved correction that makes the patient ineligible, or places them in another "
            "stratum, is recorded as a protocol deviation. You cannot decide on a correction you made." }
        @if pending.is_empty() {
            p.empty { "No correction is waiting." }
        }
        @for c in pending {
            section.correction aria-labelledby=(format!("c-{}", c.screening.id)) {
                h2 id=(format!("c-{}", c.screening.id)) {
                    "Patient " (c.screening.patient_ref) " · " (c.screening.site)
                    @if let Some(s) = &c.subject_id { " · subject " (s) }
                }
                dl.facts {
                    dt { "Status" } dd { (status_text(c.screening.correction_status.unwrap_or(CorrectionStatus::Pending))) }
                    dt { "Corrected by" } dd { (c.screening.screened_by) " on " (session.when_at(&c.screening.site, &c.screening.screened_at)) }
                    dt { "Reason" } dd.reason { (c.reason) }
                    dt { "Outcome" } dd { (templates::outcome_badge(c.previous_outcome)) " → " (templates::outcome_badge(c.screening.outcome)) }
                }
                (changes_table(c))
                (decision_form(trial_id, c, session, errors))
            }
        }
        section aria-labelledby="deviations-title" {
            h2 #deviations-title { "Deviations" }
            @if deviations.is_empty() {
                p.empty { "None recorded." }
            } @else {
                div.table-scroll role="region" aria-label="Table: Deviations" tabindex="0" {
                    table {
                        thead { tr { th { "Subject" } th { "Deviation" } th { "Recorded" } th { "Correction" } } }
                        tbody {
                            @for d in deviations {
                                tr {
                                    td { a href=(format!("/trials/{trial_id}/subjects/{}", d.subject_id)) { (d.subject_id) } }
                                    td { (deviation_text(d.kind)) }
                                    td { (session.when(&d.recorded_at)) }
                                    td { code { (d.screening_id) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn load(
    state: &web::Data<AppState>,
    session: &WebSession,
    trial_id: &str,
) -> Result<(Vec<CorrectionView>, Vec<DeviationView>), WebError> {
    let trial = state.trials.get(trial_id).map_err(|e| session.fail(e))?;
    session
        .db(state, move |c, user| {
            let pending = corrections::list_corrections(c, &trial, user, false)?;
            // A site-limited monitor sees the queue and deviations of their sites.
            let deviations = corrections::list_deviations(c, &trial, user)?;
            Ok::<_, crate::service::queries::QueryError>((pending, deviations))
        })
        .await
}

#[derive(Debug, serde::Deserialize)]
pub struct QueueQuery {
    decided: Option<String>,
}

/// GET /trials/{trial}/corrections: the approvals queue.
pub async fn queue(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, WebError> {
    let trial_id = path.into_inner();
    session.require(Permission::ReviewCorrections)?;
    let (pending, deviations) = load(&state, &session, &trial_id).await?;
    // Fixed texts only: nothing from the query string is shown.
    let notice = match query.decided.as_deref().and_then(CorrectionStatus::parse) {
        Some(CorrectionStatus::Approved) => Some("The correction is approved and in effect."),
        Some(CorrectionStatus::Rejected) => {
            Some("The correction is rejected; the screening stands as it was.")
        }
        _ => None,
    };
    let body = html! {
        @if let Some(n) = notice { (templates::notice("ok", html! { (n) })) }
        (queue_page(&trial_id, &session, &pending, &deviations, &[]))
    };
    Ok(templates::ok(page(
        "Corrections",
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

/// POST /trials/{trial}/corrections/{id}/decision: approve or reject, then back to the queue.
pub async fn decide(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::ReviewCorrections)?;
    let (trial_id, id) = path.into_inner();
    let decision = match fields.value("decision") {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        _ => return Err(session.fail(ApiError::field("decision", "choose Approve or Reject"))),
    };
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let request = DecisionRequest {
        decision,
        reason: fields.value("reason").to_string(),
    };
    let result = session
        .db(&state, move |c, user| {
            corrections::decide(c, &trial, user, &id, &request)
        })
        .await;
    match result {
        Ok(s) => Ok(templates::see_other(&format!(
            "/trials/{trial_id}/corrections?decided={}",
            s.correction_status.map_or("", |s| s.as_str()),
        ))),
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => {
            let (pending, deviations) = load(&state, &session, &trial_id).await?;
            let body = queue_page(&trial_id, &session, &pending, &deviations, &errors);
            Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                page("Corrections", Some(&session), Some(&trial_id), body),
            ))
        }
        Err(e) => Err(e),
    }
}
