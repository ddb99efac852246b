//! Corrections as monitors see them: the approvals queue (old → new values, why, who) with
//! approve and reject forms, and the deviations list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::Value;

use super::error::WebError;
use super::form::Fields;
use super::i18n::{t, Lang};
use super::session::WebSession;
use super::signature::{self, Refusal};
use super::templates::{self, csrf_field, page};
use crate::access::Permission;
use crate::audit::signature::Meaning;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::{CorrectionStatus, Decision, DeviationKind};
use crate::service::corrections::{self, CorrectionView, DecisionRequest, DeviationView};

/// A stored value as a person reads it: `11.2 g/dL`, `yes`, `—` for "not given".
pub fn shown(l: Lang, value: &Value) -> String {
    let shown = |v: &Value| shown(l, v);
    match value {
        Value::Null => "—".into(),
        Value::Bool(true) => t(l, "value-yes"),
        Value::Bool(false) => t(l, "value-no"),
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

pub fn deviation_text(l: Lang, kind: DeviationKind) -> String {
    match kind {
        DeviationKind::IneligibleRandomized => t(l, "deviation-ineligible"),
        DeviationKind::Misstratified => t(l, "deviation-misstratified"),
    }
}

pub fn status_text(l: Lang, status: CorrectionStatus) -> String {
    match status {
        CorrectionStatus::Applied => t(l, "correction-applied"),
        CorrectionStatus::Pending => t(l, "correction-pending"),
        CorrectionStatus::Approved => t(l, "correction-approved"),
        CorrectionStatus::Rejected => t(l, "correction-rejected"),
    }
}

/// The old → new table of a correction, each field named as the screening form names it.
pub fn changes_table(l: Lang, c: &CorrectionView) -> Markup {
    let labels: std::collections::BTreeMap<String, String> =
        super::screening_form::labels(l).into_iter().collect();
    html! {
        div.table-scroll role="region" aria-label=(t(l, "changes-table")) tabindex="0" {
            table.changes {
                thead { tr { th { (t(l, "changes-field")) } th { (t(l, "changes-was")) } th { (t(l, "changes-to")) } } }
                tbody {
                    @for ch in &c.changes {
                        tr {
                            td { @match labels.get(&ch.field) { Some(label) => (label), None => code { (ch.field) } } }
                            td { (shown(l, &ch.old)) } td { (shown(l, &ch.new)) }
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
    let l = session.lang;
    let error = errors.iter().find(|e| e.field == "reason");
    let signature_problem = errors
        .iter()
        .find(|e| e.field == signature::FIELD)
        .map(|e| e.message.as_str());
    let patient_ref = c.screening.patient_ref.clone();
    let (approve, reject) = (t(l, "decision-approve"), t(l, "decision-reject"));
    let meanings = [
        (
            Some(approve.as_str()),
            Meaning::ApproveCorrection {
                patient_ref: patient_ref.clone(),
            },
        ),
        (
            Some(reject.as_str()),
            Meaning::RejectCorrection { patient_ref },
        ),
    ];
    let error_id = format!("reason-{id}-error");
    html! {
        form.decision method="post" action=(format!("/trials/{trial_id}/corrections/{id}/decision")) {
            (csrf_field(session))
            div.field {
                label for=(format!("reason-{id}")) { (t(l, "decision-reason")) }
                textarea id=(format!("reason-{id}")) name="reason" rows="2" required
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())] {}
                @if let Some(e) = error { p.field-error id=(error_id) { (super::messages::field(l, &e.message)) } }
            }
            (signature::fields_for(l, &format!("-{id}"), &meanings, signature_problem))
            div.actions {
                button.primary type="submit" name="decision" value="approve" { (t(l, "decision-approve")) }
                button type="submit" name="decision" value="reject" { (t(l, "decision-reject")) }
            }
        }
    }
}

fn queue_page(
    trial_id: &str,
    session: &WebSession,
    pending: &[CorrectionView],
    deviations: &[DeviationView],
    failed: Option<(&str, &[FieldError])>,
) -> Markup {
    let errors_of = |id: &str| match failed {
        Some((failed_id, errors)) if failed_id == id => errors,
        _ => &[],
    };
    let l = session.lang;
    html! {
        h1 { (t(l, "corrections-title")) }
        p { (t(l, "corrections-explained")) }
        @if pending.is_empty() {
            p.empty { (t(l, "corrections-empty")) }
        }
        @for c in pending {
            section.correction aria-labelledby=(format!("c-{}", c.screening.id)) {
                h2 id=(format!("c-{}", c.screening.id)) {
                    (t(l, "correction-patient")) (c.screening.patient_ref) " · " (c.screening.site)
                    @if let Some(s) = &c.subject_id { (t(l, "correction-subject")) (s) }
                }
                dl.facts {
                    dt { (t(l, "trials-status")) } dd { (status_text(l, c.screening.correction_status.unwrap_or(CorrectionStatus::Pending))) }
                    dt { (t(l, "corrected-by")) } dd { (c.screening.screened_by) (t(l, "meta-on")) (session.when_at(&c.screening.site, &c.screening.screened_at)) }
                    dt { (t(l, "col-reason")) } dd.reason { (c.reason) }
                    dt { (t(l, "col-outcome")) } dd { (templates::outcome_badge(l, c.previous_outcome)) " → " (templates::outcome_badge(l, c.screening.outcome)) }
                }
                (changes_table(l, c))
                (decision_form(trial_id, c, session, errors_of(&c.screening.id)))
            }
        }
        section aria-labelledby="deviations-title" {
            h2 #deviations-title { (t(l, "deviations")) }
            @if deviations.is_empty() {
                p.empty { (t(l, "none-recorded")) }
            } @else {
                div.table-scroll role="region" aria-label=(t(l, "deviations-table")) tabindex="0" {
                    table {
                        thead { tr { th { (t(l, "col-subject")) } th { (t(l, "deviation")) } th { (t(l, "meta-recorded")) } th { (t(l, "correction")) } } }
                        tbody {
                            @for d in deviations {
                                tr {
                                    td { a href=(format!("/trials/{trial_id}/subjects/{}", d.subject_id)) { (d.subject_id) } }
                                    td { (deviation_text(l, d.kind)) }
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
    let l = session.lang;
    let notice = match query.decided.as_deref().and_then(CorrectionStatus::parse) {
        Some(CorrectionStatus::Approved) => Some(t(l, "decided-approved")),
        Some(CorrectionStatus::Rejected) => Some(t(l, "decided-rejected")),
        _ => None,
    };
    let body = html! {
        @if let Some(n) = notice { (templates::notice("ok", html! { (n) })) }
        (queue_page(&trial_id, &session, &pending, &deviations, None))
    };
    Ok(templates::ok(page(
        &t(l, "nav-corrections"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

/// POST /trials/{trial}/corrections/{id}/decision: approve or reject, then back to the queue.
pub async fn decide(
    req: HttpRequest,
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
    let refused = |errors: Vec<FieldError>| {
        let (state, session, trial_id, id) = (&state, &session, &trial_id, &id);
        async move {
            let (pending, deviations) = load(state, session, trial_id).await?;
            let body = queue_page(
                trial_id,
                session,
                &pending,
                &deviations,
                Some((id, &errors)),
            );
            Ok::<_, WebError>(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(
                    &t(session.lang, "nav-corrections"),
                    Some(session),
                    Some(trial_id),
                    body,
                ),
            ))
        }
    };
    let signer = match signature::signer(&req, &state, &session, &fields).await {
        Ok(s) => s,
        Err(Refusal::Problem(p)) => {
            return refused(vec![FieldError::new(signature::FIELD, p)]).await;
        }
        Err(Refusal::Error(e)) => return Err(session.fail(e)),
    };
    let decided = id.clone();
    let result = session
        .db(&state, move |c, user| {
            corrections::decide(c, &trial, user, &decided, &request, Some(&signer))
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
        }) => refused(errors).await,
        Err(e) => Err(e),
    }
}
