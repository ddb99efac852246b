//! Investigator pages: the screening form, its result, the site's screening list.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::screening_form::{self as sf, CountInput, UlnInput};
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::{Permission, Role};
use crate::eligibility::{Attestation, FieldError, Outcome};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::SubjectStatus;
use crate::service::error::Invalid;
use crate::service::queries::{self, QueryError, ScreeningFilter, MAX_LIMIT};
use crate::service::views::{Allocation, ScreeningView};
use crate::service::{screening, TrialRuntime};

/// The values and errors a form is drawn with.
struct Draw<'a> {
    fields: &'a Fields,
    errors: &'a [FieldError],
}

fn dom_id(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

impl Draw<'_> {
    fn errors_at(&self, name: &str) -> Vec<&FieldError> {
        self.errors.iter().filter(|e| e.field == name).collect()
    }

    fn invalid(&self, name: &str) -> Option<&'static str> {
        (!self.errors_at(name).is_empty()).then_some("true")
    }

    fn described(&self, name: &str) -> Option<String> {
        self.invalid(name)
            .map(|_| format!("{}-error", dom_id(name)))
    }

    fn error_text(&self, name: &str) -> Markup {
        let errors = self.errors_at(name);
        html! {
            @if !errors.is_empty() {
                p.field-error id=(format!("{}-error", dom_id(name))) {
                    @for e in errors { (sf::friendly(&e.message)) " " }
                }
            }
        }
    }

    fn text(&self, name: &str, label: &str, kind: &str, hint: Option<&str>) -> Markup {
        let id = dom_id(name);
        html! {
            div.field {
                label for=(id) { (label) }
                input id=(id) type=(kind) name=(name) value=(self.fields.value(name))
                    aria-invalid=[self.invalid(name)] aria-describedby=[self.described(name)];
                @if let Some(h) = hint { p.hint { (h) } }
                (self.error_text(name))
            }
        }
    }

    fn number(&self, name: &str, label: &str) -> Markup {
        let id = dom_id(name);
        html! {
            div.field.small {
                label for=(id) { (label) }
                // Text, not type=number: a browser empties a number input it cannot read
                // ("1,5" in an English locale), so the value would be lost, not named.
                input id=(id) type="text" inputmode="decimal" autocomplete="off" name=(name)
                    value=(self.fields.value(name))
                    aria-invalid=[self.invalid(name)] aria-describedby=[self.described(name)];
                (self.error_text(name))
            }
        }
    }

    fn select(&self, name: &str, label: &str, options: &[(&str, &str)]) -> Markup {
        let id = dom_id(name);
        let current = self.fields.value(name);
        let known = options.iter().any(|(v, _)| *v == current);
        html! {
            div.field.small {
                label for=(id) { (label) }
                select id=(id) name=(name)
                    aria-invalid=[self.invalid(name)] aria-describedby=[self.described(name)] {
                    @for (value, shown) in options {
                        option value=(value) selected[*value == current] { (shown) }
                    }
                    // Nothing typed is lost: a value not in the list stays selected.
                    @if !known { option value=(current) selected { (current) } }
                }
                (self.error_text(name))
            }
        }
    }

    /// Yes / No / not answered, as radio buttons.
    fn yes_no(&self, name: &str, question: &str, unknown: &str) -> Markup {
        let id = dom_id(name);
        let current = self.fields.value(name);
        html! {
            fieldset.question id=(id) aria-invalid=[self.invalid(name)]
                aria-describedby=[self.described(name)] {
                legend { (question) }
                div.choices {
                    @for (value, shown) in [("yes", "Yes"), ("no", "No"), ("", unknown)] {
                        label.choice {
                            input type="radio" name=(name) value=(value) checked[value == current];
                            " " (shown)
                        }
                    }
                }
                (self.error_text(name))
            }
        }
    }

    fn count_lab(&self, c: &CountInput) -> Markup {
        let base = format!("labs.{}", c.lab.field());
        let units = sf::count_units(c.lab);
        html! {
            div.lab {
                h3 { (c.label) }
                div.row {
                    (self.number(&format!("{base}.value"), "Value"))
                    (self.select(&format!("{base}.unit"), "Unit", &units))
                }
                (self.error_text(&base))
            }
        }
    }

    fn uln_lab(&self, u: &UlnInput) -> Markup {
        let base = format!("labs.{}", u.lab.field());
        html! {
            div.lab {
                h3 { (u.label) }
                div.row {
                    (self.number(&format!("{base}.value"), "Value"))
                    (self.number(&format!("{base}.uln"), "Upper limit of normal"))
                    (self.select(&format!("{base}.unit"), "Unit", u.units))
                }
                (self.error_text(&base))
            }
        }
    }

    /// Every error at the top, in the order of the form, each linked to its input; the
    /// summary takes the focus (`autofocus`, and app.js where that is not honoured), so a
    /// screen reader announces it and the keyboard starts there.
    fn summary(&self, extra: Option<&str>) -> Markup {
        let labels: BTreeMap<String, String> = sf::labels().into_iter().collect();
        let n = self.errors.len();
        html! {
            @if let Some(x) = extra {
                div.notice.error role="alert" { p { (x) } }
            }
            @if n > 0 {
                div.error-summary role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title" {
                    h2 #error-summary-title {
                        @if n == 1 { "There is 1 problem" } @else { "There are " (n) " problems" }
                    }
                    ul {
                        @for e in self.errors {
                            li {
                                @match labels.get(&e.field) {
                                    Some(label) => a href=(format!("#{}", sf::anchor(&e.field))) { (label) ": " (sf::friendly(&e.message)) },
                                    None => { code { (if e.field.is_empty() { "form" } else { e.field.as_str() }) } ": " (sf::friendly(&e.message)) },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn screening_form(
    s: &WebSession,
    trial: &TrialRuntime,
    fields: &Fields,
    errors: &[FieldError],
    problem: Option<&str>,
) -> Markup {
    let d = Draw { fields, errors };
    let t = &trial.protocol.id;
    let sites = &s.user.sites;
    let body = html! {
        h1 { "Screen a patient" }
        p.lead { (trial.protocol.title) }
        (d.summary(problem))
        form method="post" action=(format!("/trials/{t}/screening")) novalidate {
            (csrf_field(s))
            fieldset.group {
                legend { "Patient" }
                div.row {
                    (d.text("patient_ref", "Patient reference", "text", Some("Your site's identifier for the patient; no names.")))
                    // A site-limited user picks one of their sites; others type the code.
                    @if !sites.is_empty() {
                        (d.select("site", "Site", &sites.iter().map(|x| (x.as_str(), x.as_str())).collect::<Vec<_>>()))
                    } @else {
                        (d.text("site", "Site", "text", None))
                    }
                }
                div.row {
                    (d.text("birth_date", "Date of birth", "date", None))
                    (d.select("sex", "Sex", &sf::sex_options()))
                    (d.text("screening_date", "Screening date", "date", None))
                }
            }
            fieldset.group {
                legend { "Attestations" }
                @for a in Attestation::ALL {
                    (d.yes_no(&sf::attestation_name(a), sf::attestation_question(a), "Not answered"))
                }
            }
            fieldset.group {
                legend { "Blood counts" }
                @for c in &sf::BLOOD_COUNTS { (d.count_lab(c)) }
            }
            fieldset.group {
                legend { "Liver" }
                (d.yes_no("liver_metastasis", "Liver metastasis?", "Not known"))
                @for u in &sf::LIVER { (d.uln_lab(u)) }
            }
            fieldset.group {
                legend { "Kidney" }
                (d.uln_lab(&sf::CREATININE))
                div.lab {
                    h3 { "24-hour creatinine clearance" }
                    p.hint { "Needed only when creatinine is above the limit." }
                    div.row { (d.number(&format!("{}.value", sf::CLEARANCE), "Value (mL/min)")) }
                    (d.error_text(sf::CLEARANCE))
                }
            }
            fieldset.group {
                legend { "Urine" }
                div.row { (d.select(sf::DIPSTICK, "Protein dipstick", &sf::dipstick_options())) }
                div.lab {
                    h3 { "24-hour urine protein" }
                    p.hint { "Needed only when the dipstick shows 2+ or more." }
                    div.row {
                        (d.number(&format!("{}.value", sf::PROTEIN_24H), "Value"))
                        (d.select(&format!("{}.unit", sf::PROTEIN_24H), "Unit", sf::PROTEIN_24H_UNITS))
                    }
                    (d.error_text(sf::PROTEIN_24H))
                }
                div.row { (d.number(sf::UPC, "Urine protein/creatinine ratio")) }
            }
            div.actions {
                button.primary type="submit" { "Evaluate and record" }
            }
        }
    };
    page("Screen a patient", Some(s), Some(t), body)
}

/// The empty screening form.
pub async fn new_screening(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Screen)?;
    let trial = state.trials.get(&path).map_err(|e| session.fail(e))?;
    let t = &trial.protocol.id;
    if session.trial_closed(t) {
        // The service would refuse the POST: no form to fill in for nothing.
        let body = html! {
            h1 { "Screen a patient" }
            (templates::notice("warn", html! { "Trial " (t) " is closed: no new screening can be recorded." }))
            p { a href=(format!("/trials/{t}/screenings")) { "Screening list" } }
        };
        return Ok(templates::ok(page(
            "Screen a patient",
            Some(&session),
            Some(t),
            body,
        )));
    }
    let fields = sf::initial(crate::service::now().date(), &session.user.sites);
    Ok(templates::ok(screening_form(
        &session,
        &trial,
        &fields,
        &[],
        None,
    )))
}

/// Records the screening through the same use case as the API; on refusal the form comes
/// back with every value as typed and each error next to its input.
pub async fn submit(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::Screen)?;
    let trial = state.trials.get(&path).map_err(|e| session.fail(e))?;
    let redraw = |status: StatusCode, errors: &[FieldError], problem: Option<&str>| {
        templates::respond(
            status,
            screening_form(&session, &trial, &fields, errors, problem),
        )
    };
    let (raw, mut errors) = sf::parse(&fields);
    if !errors.is_empty() {
        // The use case's checks of everything that did parse too, so that one round trip
        // names every problem (nothing is recorded: this only validates).
        let today = crate::service::now().date();
        if let Err(Invalid(more)) = screening::evaluate_request(&trial.protocol, &raw, today) {
            let related = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}."));
            let seen: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            errors.extend(more.into_iter().filter(|e| {
                !seen
                    .iter()
                    .any(|f| related(f, &e.field) || related(&e.field, f))
            }));
        }
        sf::in_form_order(&mut errors);
        return Ok(redraw(StatusCode::UNPROCESSABLE_ENTITY, &errors, None));
    }
    let t = trial.clone();
    let result = session
        .db(&state, move |c, user| screening::record(c, &t, user, &raw))
        .await;
    match result {
        Ok(view) => Ok(templates::see_other(&format!(
            "/trials/{}/screenings/{}",
            view.trial, view.id
        ))),
        Err(WebError::Page { error, .. }) => match error {
            ApiError::Validation(mut errors) => {
                sf::in_form_order(&mut errors);
                Ok(redraw(StatusCode::UNPROCESSABLE_ENTITY, &errors, None))
            }
            ApiError::Malformed(m) => Ok(redraw(
                StatusCode::BAD_REQUEST,
                &[FieldError::new("", m)],
                None,
            )),
            ApiError::Forbidden(m) => Ok(redraw(
                StatusCode::FORBIDDEN,
                &[FieldError::new("site", m)],
                None,
            )),
            e @ ApiError::TrialClosed(_) => {
                Ok(redraw(StatusCode::CONFLICT, &[], Some(&e.public_detail())))
            }
            other => Err(session.fail(other)),
        },
        Err(other) => Err(other),
    }
}

fn criterion_text<'a>(trial: &'a TrialRuntime, id: &'a str) -> &'a str {
    trial
        .protocol
        .criteria
        .iter()
        .find(|c| c.id == id)
        .map_or(id, |c| c.text.as_str())
}

/// One screening: every criterion with pass / fail / missing and its detail, the outcome.
pub async fn result(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (trial_id, id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let t = trial.clone();
    let (v, subject): (ScreeningView, Option<Allocation>) = session
        .db(&state, move |c, user| {
            let v = queries::get_screening(c, &t, user, &id)?;
            let subject = match &v.subject_id {
                Some(s) => Some(queries::get_subject(c, &t, user, s)?),
                None => None,
            };
            Ok::<_, QueryError>((v, subject))
        })
        .await?;
    let role = session.user.role;
    let closed = session.trial_closed(&trial_id);
    let body = html! {
        div.heading {
            h1 { "Screening of " (v.patient_ref) }
            p.outcome { "Outcome: " (templates::outcome_badge(v.outcome)) }
        }
        dl.meta {
            dt { "Site" } dd { (v.site) }
            dt { "Screening date" } dd { (v.screening_date) }
            dt { "Recorded" } dd { (templates::when(&v.screened_at)) " by " (v.screened_by) }
            @if let Some(a) = &subject {
                dt { "Randomized as" }
                dd { a href=(format!("/trials/{trial_id}/subjects/{}", a.subject_id)) { (a.subject_id) }
                    @if a.status == SubjectStatus::Withdrawn {
                        " · withdrawn" @if let Some(at) = &a.withdrawn_at { " on " (templates::when(at)) }
                    } }
            }
        }
        @if !v.latest {
            (templates::notice("warn", html! { "A later screening of this patient exists; this one no longer counts." }))
        }
        table.criteria {
            caption { "Eligibility criteria" }
            thead { tr { th scope="col" { "Criterion" } th scope="col" { "Result" } th scope="col" { "Detail" } } }
            tbody {
                @for c in &v.criteria {
                    tr {
                        td { (criterion_text(&trial, &c.id)) }
                        td { (templates::status_badge(c.status)) }
                        td { (c.detail) }
                    }
                }
            }
        }
        @if !v.missing.is_empty() {
            p { "Missing inputs: " @for (i, m) in v.missing.iter().enumerate() { @if i > 0 { ", " } code { (m) } } }
        }
        div.actions {
            @if role == Role::Investigator {
                @if !closed { a.button href=(format!("/trials/{trial_id}/screening")) { "Screen another patient" } }
                a href=(format!("/trials/{trial_id}/screenings")) { "Screening list" }
            }
            @if let Some(a) = subject.as_ref().filter(|a| a.status == SubjectStatus::OnStudy) {
                @if !closed && session.may(Permission::Withdraw) {
                    a.button.danger href=(format!("/trials/{trial_id}/subjects/{}/withdraw", a.subject_id)) { "Withdraw from the trial" }
                }
            }
            @if !closed && role == Role::Pharmacist && v.subject_id.is_none() && v.latest && v.outcome == crate::eligibility::Outcome::Eligible {
                a.button href=(format!("/trials/{trial_id}/randomize/{}", v.id)) { "Randomize" }
            }
        }
    };
    Ok(templates::ok(page(
        &format!("Screening of {}", v.patient_ref),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    outcome: Option<String>,
}

/// The latest screening of each patient of the user's sites, newest first.
pub async fn list(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let outcome = query.into_inner().outcome.filter(|o| !o.is_empty());
    let filter = ScreeningFilter {
        outcome: outcome.clone(),
        limit: MAX_LIMIT,
        ..ScreeningFilter::default()
    };
    let rows = session
        .db(&state, move |c, user| {
            queries::list_screenings(c, &trial, user, &filter)
        })
        .await?;
    let body = html! {
        h1 { "Screenings" }
        nav.filters aria-label="Filter by outcome" {
            @for (value, label) in [("", "All"), (Outcome::Eligible.as_str(), "Eligible"), (Outcome::Ineligible.as_str(), "Ineligible"), (Outcome::Incomplete.as_str(), "Incomplete")] {
                @if outcome.as_deref().unwrap_or("") == value {
                    strong aria-current="page" { (label) }
                } @else {
                    a href=(if value.is_empty() { format!("/trials/{trial_id}/screenings") } else { format!("/trials/{trial_id}/screenings?outcome={value}") }) { (label) }
                }
            }
        }
        @if rows.is_empty() {
            p { "No screenings yet." }
        } @else {
            table {
                thead { tr { th { "Patient" } th { "Site" } th { "Screening date" } th { "Outcome" } th { "Recorded by" } th { "Subject" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { a href=(format!("/trials/{trial_id}/screenings/{}", r.id)) { (r.patient_ref) } }
                            td { (r.site) }
                            td { (r.screening_date) }
                            td { (templates::outcome_badge(r.outcome)) }
                            td { (r.screened_by) }
                            td { @if let Some(sub) = &r.subject_id { a href=(format!("/trials/{trial_id}/subjects/{sub}")) { (sub) } } }
                        }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page(
        "Screenings",
        Some(&session),
        Some(&trial_id),
        body,
    )))
}
