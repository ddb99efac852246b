//! Investigator pages: the screening form, its result, the site's screening list.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::i18n::{t, ta, Lang};
use super::screening_form::{self as sf, CountInput, UlnInput};
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::{Permission, Role};
use crate::eligibility::{Attestation, CriterionResult, FieldError, Outcome, RawScreening};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::CorrectionStatus;
use crate::protocol::{Rule, SubjectStatus};
use crate::service::error::Invalid;
use crate::service::queries::{self, QueryError, ScreeningFilter, MAX_LIMIT};
use crate::service::views::{Allocation, ScreeningView};
use crate::service::{screening, TrialRuntime};

/// The values and errors a form is drawn with.
struct Draw<'a> {
    lang: Lang,
    fields: &'a Fields,
    errors: &'a [FieldError],
    /// Inputs an earlier screening lacked (completing it): marked.
    needed: &'a [String],
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

    fn is_needed(&self, name: &str) -> bool {
        self.needed.iter().any(|n| n == name)
    }

    fn described(&self, name: &str) -> Option<String> {
        let ids: Vec<String> = [
            self.invalid(name)
                .map(|_| format!("{}-error", dom_id(name))),
            self.is_needed(name)
                .then(|| format!("{}-needed", dom_id(name))),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }

    fn needed_mark(&self, name: &str) -> Markup {
        html! {
            @if self.is_needed(name) {
                p.needed-mark id=(format!("{}-needed", dom_id(name))) { (t(self.lang, "form-still-needed-mark")) }
            }
        }
    }

    fn error_text(&self, name: &str) -> Markup {
        let errors = self.errors_at(name);
        html! {
            @if !errors.is_empty() {
                p.field-error id=(format!("{}-error", dom_id(name))) {
                    @for e in errors { (sf::friendly(self.lang, &e.message)) " " }
                }
            }
        }
    }

    fn text(&self, name: &str, label: &str, kind: &str, hint: Option<&str>) -> Markup {
        let id = dom_id(name);
        html! {
            div.field.needed[self.is_needed(name)] {
                label for=(id) { (label) }
                input id=(id) type=(kind) name=(name) value=(self.fields.value(name))
                    aria-invalid=[self.invalid(name)] aria-describedby=[self.described(name)];
                @if let Some(h) = hint { p.hint { (h) } }
                (self.needed_mark(name))
                (self.error_text(name))
            }
        }
    }

    fn number(&self, name: &str, label: &str) -> Markup {
        let id = dom_id(name);
        html! {
            div.field.small.needed[self.is_needed(name)] {
                label for=(id) { (label) }
                // Text, not type=number: a browser empties a number input it cannot read
                // ("1,5" in an English locale), so the value would be lost, not named.
                input id=(id) type="text" inputmode="decimal" autocomplete="off" name=(name)
                    value=(self.fields.value(name))
                    aria-invalid=[self.invalid(name)] aria-describedby=[self.described(name)];
                (self.needed_mark(name))
                (self.error_text(name))
            }
        }
    }

    fn select<S: AsRef<str>>(&self, name: &str, label: &str, options: &[(&str, S)]) -> Markup {
        let id = dom_id(name);
        let current = self.fields.value(name);
        let known = options.iter().any(|(v, _)| *v == current);
        html! {
            div.field.small.needed[self.is_needed(name)] {
                label for=(id) { (label) }
                select id=(id) name=(name)
                    aria-invalid=[self.invalid(name)] aria-describedby=[self.described(name)] {
                    @for (value, shown) in options {
                        option value=(value) selected[*value == current] { (shown.as_ref()) }
                    }
                    // Nothing typed is lost: a value not in the list stays selected.
                    @if !known { option value=(current) selected { (current) } }
                }
                (self.needed_mark(name))
                (self.error_text(name))
            }
        }
    }

    /// Yes / No / not answered, as radio buttons.
    fn yes_no(&self, name: &str, question: &str, unknown: &str) -> Markup {
        let id = dom_id(name);
        let current = self.fields.value(name);
        html! {
            fieldset.question.needed[self.is_needed(name)] id=(id) aria-invalid=[self.invalid(name)]
                aria-describedby=[self.described(name)] {
                legend { (question) }
                div.choices {
                    @for (value, shown) in [("yes", t(self.lang, "form-yes")), ("no", t(self.lang, "form-no")), ("", unknown.to_string())] {
                        label.choice {
                            input type="radio" name=(name) value=(value) checked[value == current];
                            " " (shown)
                        }
                    }
                }
                (self.needed_mark(name))
                (self.error_text(name))
            }
        }
    }

    /// "Right as typed": offered when the lab's value is outside the protocol's plausible
    /// range (the refusal asks for it), and kept once ticked.
    fn confirm_box(&self, lab: &str) -> Markup {
        let base = format!("labs.{lab}");
        let confirmed = self.fields.all(CONFIRM_FIELD).contains(&lab);
        let asked = self
            .errors_at(&base)
            .iter()
            .any(|e| e.message.contains(CONFIRM_FIELD));
        let id = format!("{}-confirm", dom_id(&base));
        html! {
            @if asked || confirmed {
                div.field.confirm {
                    label.choice for=(id) {
                        input id=(id) type="checkbox" name=(CONFIRM_FIELD) value=(lab) checked[confirmed];
                        (t(self.lang, "form-confirm-value"))
                    }
                }
            }
        }
    }

    fn count_lab(&self, c: &CountInput) -> Markup {
        let base = format!("labs.{}", c.lab.field());
        let units = sf::count_units(c.lab);
        html! {
            div.lab {
                h2.lab-name { (t(self.lang, c.label)) }
                div.row {
                    (self.number(&format!("{base}.value"), &t(self.lang, "form-value")))
                    (self.select(&format!("{base}.unit"), &t(self.lang, "form-unit"), &units))
                }
                (self.error_text(&base))
                (self.confirm_box(c.lab.field()))
            }
        }
    }

    fn uln_lab(&self, u: &UlnInput) -> Markup {
        let base = format!("labs.{}", u.lab.field());
        html! {
            div.lab {
                h2.lab-name { (t(self.lang, u.label)) }
                div.row {
                    (self.number(&format!("{base}.value"), &t(self.lang, "form-value")))
                    (self.number(&format!("{base}.uln"), &t(self.lang, "form-uln")))
                    (self.select(&format!("{base}.unit"), &t(self.lang, "form-unit"), u.units))
                }
                (self.error_text(&base))
                (self.confirm_box(u.lab.field()))
            }
        }
    }

    /// Every error at the top, in the order of the form, each linked to its input; the
    /// summary takes the focus (`autofocus`, and app.js where that is not honoured), so a
    /// screen reader announces it and the keyboard starts there.
    fn summary(&self, extra: Option<&str>) -> Markup {
        let l = self.lang;
        let labels: BTreeMap<String, String> = sf::labels(l).into_iter().collect();
        let n = self.errors.len();
        html! {
            @if let Some(x) = extra {
                div.notice.error role="alert" { p { (x) } }
            }
            @if n > 0 {
                div.error-summary role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title" {
                    h2 #error-summary-title {
                        (ta(l, "form-problems", &[("n", n.into())]))
                    }
                    ul {
                        @for e in self.errors {
                            li {
                                @match labels.get(&e.field) {
                                    Some(label) => a href=(format!("#{}", sf::anchor(&e.field))) { (label) ": " (sf::friendly(l, &e.message)) },
                                    None => { code { (if e.field.is_empty() { t(l, "form-whole") } else { e.field.clone() }) } ": " (sf::friendly(l, &e.message)) },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The earlier screening a form completes, and what it lacked.
pub(super) struct Completing {
    view: ScreeningView,
    needed: Vec<sf::Needed>,
}

fn still_needed(s: &WebSession, c: &Completing) -> Markup {
    let l = s.lang;
    html! {
        div.notice.warn.still-needed aria-labelledby="still-needed-title" {
            p { (t(l, "completing")) " " strong { (c.view.patient_ref) } (t(l, "completing-of")) (c.view.screening_date)
                (ta(l, "completing-recorded", &[("at", s.when_at(&c.view.site, &c.view.screened_at).into()), ("by", c.view.screened_by.as_str().into())]))
                (t(l, "completing-explained")) }
            h2 #still-needed-title { (t(l, "still-needed")) }
            ul {
                @for n in &c.needed {
                    li { @match &n.field {
                        Some(f) => a href=(format!("#{}", sf::anchor(f))) { (n.label) },
                        None => (n.label),
                    } }
                }
            }
        }
    }
}

/// The checkboxes confirming implausible values (`confirm_implausible` of the request).
const CONFIRM_FIELD: &str = "confirm_implausible";
/// The hidden one-time token of a screening form: sent twice, it records one screening.
pub(super) const FORM_TOKEN: &str = "form_token";

/// What the screening form is for.
pub(super) enum FormKind<'a> {
    /// A new screening, or one completing an earlier incomplete screening.
    New(Option<&'a Completing>),
    /// A correction of this screening: patient and site are fixed, a reason is asked.
    Correct(&'a ScreeningView),
}

pub(super) fn screening_form(
    s: &WebSession,
    trial: &TrialRuntime,
    fields: &Fields,
    errors: &[FieldError],
    problem: Option<&str>,
    kind: FormKind<'_>,
) -> Markup {
    let completing = match kind {
        FormKind::New(c) => c,
        FormKind::Correct(_) => None,
    };
    let correcting = match kind {
        FormKind::Correct(v) => Some(v),
        FormKind::New(_) => None,
    };
    let needed: Vec<String> = completing
        .map(|c| c.needed.iter().filter_map(|n| n.field.clone()).collect())
        .unwrap_or_default();
    // A form drawn again keeps its token, so sending it again is still one screening.
    let token = fields
        .filled(FORM_TOKEN)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
    let l = s.lang;
    let d = Draw {
        lang: l,
        fields,
        errors,
        needed: &needed,
    };
    let tid = &trial.protocol.id;
    let sites = &s.user.sites;
    let (title, action) = match correcting {
        Some(v) => (
            ta(
                l,
                "correct-title",
                &[("patient", v.patient_ref.as_str().into())],
            ),
            format!("/trials/{tid}/screenings/{}/correct", v.id),
        ),
        None => (t(l, "screen-title"), format!("/trials/{tid}/screening")),
    };
    let body = html! {
        h1 { (title) }
        p.lead { (trial.protocol.title_in(l)) }
        (d.summary(problem))
        @if let Some(c) = completing { (still_needed(s, c)) }
        @if let Some(v) = correcting { (correcting_notice(l, v)) }
        form method="post" action=(action) novalidate {
            (csrf_field(s))
            @if correcting.is_none() {
                input type="hidden" name=(FORM_TOKEN) value=(token);
            }
            fieldset.group {
                legend { (t(l, "group-patient")) }
                @if let Some(v) = correcting {
                    // Who the patient is cannot be corrected.
                    dl.meta { dt { (t(l, "label-patient-ref")) } dd { (v.patient_ref) } dt { (t(l, "label-site")) } dd { (v.site) } }
                } @else {
                    div.row {
                        (d.text("patient_ref", &t(l, "label-patient-ref"), "text", Some(t(l, "hint-patient-ref").as_str())))
                        // A site-limited user picks one of their sites; others type the code.
                        @if !sites.is_empty() {
                            (d.select("site", &t(l, "label-site"), &sites.iter().map(|x| (x.as_str(), x.as_str())).collect::<Vec<_>>()))
                        } @else {
                            (d.text("site", &t(l, "label-site"), "text", None))
                        }
                    }
                }
                div.row {
                    (d.text("initials", &t(l, "label-initials"), "text", Some(t(l, "hint-initials").as_str())))
                }
                div.row {
                    (d.text("birth_date", &t(l, "label-birth-date"), "date", None))
                    (d.select("sex", &t(l, "label-sex"), &sf::sex_options(l)))
                    (d.text("screening_date", &t(l, "label-screening-date"), "date", None))
                }
            }
            fieldset.group {
                legend { (t(l, "group-attestations")) }
                @for a in Attestation::ALL {
                    (d.yes_no(&sf::attestation_name(a), &sf::attestation_question(l, a), &t(l, "form-not-answered")))
                }
            }
            fieldset.group {
                legend { (t(l, "group-blood")) }
                @for c in &sf::BLOOD_COUNTS { (d.count_lab(c)) }
            }
            fieldset.group {
                legend { (t(l, "group-liver")) }
                (d.yes_no("liver_metastasis", &t(l, "ask-liver-metastasis"), &t(l, "form-not-known")))
                @for u in &sf::LIVER { (d.uln_lab(u)) }
            }
            fieldset.group {
                legend { (t(l, "group-kidney")) }
                (d.uln_lab(&sf::CREATININE))
                div.lab {
                    h2.lab-name { (t(l, "label-clearance")) }
                    p.hint { (t(l, "hint-clearance")) }
                    div.row { (d.number(&format!("{}.value", sf::CLEARANCE), &t(l, "form-value-ml-min"))) }
                    (d.error_text(sf::CLEARANCE))
                }
            }
            fieldset.group {
                legend { (t(l, "group-urine")) }
                div.row { (d.select(sf::DIPSTICK, &t(l, "form-dipstick"), &sf::dipstick_options(l))) }
                div.lab {
                    h2.lab-name { (t(l, "label-protein-24h")) }
                    p.hint { (t(l, "hint-protein-24h")) }
                    div.row {
                        (d.number(&format!("{}.value", sf::PROTEIN_24H), &t(l, "form-value")))
                        (d.select(&format!("{}.unit", sf::PROTEIN_24H), &t(l, "form-unit"), sf::PROTEIN_24H_UNITS))
                    }
                    (d.error_text(sf::PROTEIN_24H))
                }
                div.row { (d.number(sf::UPC, &t(l, "label-upc"))) }
            }
            @if correcting.is_some() {
                fieldset.group {
                    legend { (t(l, "group-why")) }
                    div.field {
                        label for="f-reason" { (t(l, "label-correction-reason")) }
                        textarea #f-reason name="reason" rows="3" required
                            aria-invalid=[d.invalid("reason")] aria-describedby=[d.described("reason")] { (fields.value("reason")) }
                        p.hint { (t(l, "hint-correction-reason")) }
                        (d.error_text("reason"))
                    }
                }
            }
            div.actions {
                @if correcting.is_some() {
                    button.primary type="submit" { (t(l, "submit-correction")) }
                } @else {
                    button.primary type="submit" { (t(l, "submit-screening")) }
                }
            }
        }
    };
    page(&title, Some(s), Some(tid), body)
}

/// What a correction does, said before the investigator changes anything.
fn correcting_notice(l: Lang, v: &ScreeningView) -> Markup {
    html! {
        div.notice.warn {
            p { (ta(l, "correcting-explained", &[("date", v.screening_date.to_string().into())])) }
            @if let Some(sub) = &v.subject_id {
                p { (t(l, "correcting-randomized-1")) strong { (sub) } (t(l, "correcting-randomized-2")) }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NewScreeningQuery {
    /// An earlier screening to start from (completing an incomplete one).
    #[serde(default)]
    from: Option<String>,
}

/// The screening form: empty, or (`?from=ID`) filled with everything an earlier screening
/// recorded, its missing inputs listed and marked.
pub async fn new_screening(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    query: web::Query<NewScreeningQuery>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Screen)?;
    let trial = state.trials.get(&path).map_err(|e| session.fail(e))?;
    let tid = &trial.protocol.id;
    let l = session.lang;
    if session.trial_closed(tid) {
        // The service would refuse the POST: no form to fill in for nothing.
        let body = html! {
            h1 { (t(l, "screen-title")) }
            (templates::notice("warn", html! { (ta(l, "screen-closed", &[("trial", tid.as_str().into())])) }))
            p { a href=(format!("/trials/{tid}/screenings")) { (t(l, "screening-list")) } }
        };
        return Ok(templates::ok(page(
            &t(l, "screen-title"),
            Some(&session),
            Some(tid),
            body,
        )));
    }
    let mut fields = sf::initial(session.today(), &session.user.sites);
    let completing = match query.into_inner().from.filter(|f| !f.is_empty()) {
        Some(id) => {
            let tr = trial.clone();
            let earlier = session
                .db(&state, move |c, user| {
                    queries::submitted_screening(c, &tr, user, &id)
                })
                .await?;
            sf::fill_from(&mut fields, &earlier.input);
            let needed = earlier
                .view
                .missing
                .iter()
                .map(|m| sf::needed(l, m))
                .collect();
            Some(Completing {
                view: earlier.view,
                needed,
            })
        }
        None => None,
    };
    Ok(templates::ok(screening_form(
        &session,
        &trial,
        &fields,
        &[],
        None,
        FormKind::New(completing.as_ref()),
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
            screening_form(
                &session,
                &trial,
                &fields,
                errors,
                problem,
                FormKind::New(None),
            ),
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
    let tc = trial.clone();
    let token = fields.filled(FORM_TOKEN).map(str::to_string);
    let result = session
        .db(&state, move |c, user| {
            screening::record_once(c, &tc, user, &raw, token.as_deref())
        })
        .await;
    match result {
        Ok(recorded) => Ok(templates::see_other(&format!(
            "/trials/{}/screenings/{}",
            recorded.screening.trial, recorded.screening.id
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

/// A criterion's detail as people read it. An attestation's is written here from the answer
/// as recorded (the stored detail names the input field: `informed_consent attested true`);
/// the others' already read as values against thresholds.
fn criterion_detail(
    l: Lang,
    trial: &TrialRuntime,
    input: &RawScreening,
    c: &CriterionResult,
) -> String {
    let rule = trial
        .protocol
        .criteria
        .iter()
        .find(|k| k.id == c.id)
        .map(|k| &k.rule);
    match rule {
        Some(Rule::Attestation { attestation, .. }) => {
            let answer = input
                .attestations
                .as_ref()
                .and_then(|a| sf::attestation_answer(a, *attestation));
            match answer {
                Some(true) => t(l, "answered-yes"),
                Some(false) => t(l, "answered-no"),
                None => t(l, "form-not-answered"),
            }
        }
        _ => super::messages::criterion_detail(l, &c.detail),
    }
}

/// A criterion's text in the viewer's language, as the protocol gives it.
pub(super) fn criterion_text<'a>(l: Lang, trial: &'a TrialRuntime, id: &'a str) -> &'a str {
    trial
        .protocol
        .criteria
        .iter()
        .find(|c| c.id == id)
        .map_or(id, |c| c.text_in(l))
}

/// One screening: every criterion with pass / fail / missing and its detail, the outcome.
pub async fn result(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (trial_id, id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let tc = trial.clone();
    let (v, input, subject) = session
        .db(&state, move |c, user| {
            let s = queries::submitted_screening(c, &tc, user, &id)?;
            let subject: Option<Allocation> = match &s.view.subject_id {
                Some(sub) => Some(queries::get_subject(c, &tc, user, sub)?),
                None => None,
            };
            Ok::<_, QueryError>((s.view, s.input, subject))
        })
        .await?;
    let role = session.user.role;
    let l = session.lang;
    let closed = session.trial_closed(&trial_id);
    // Only the patient's latest screening, not yet randomized, counts: complete that one.
    let completable = v.outcome == Outcome::Incomplete
        && v.latest
        && v.subject_id.is_none()
        && !closed
        && session.may(Permission::Screen);
    let body = html! {
        div.heading {
            h1 { (ta(l, "screening-of", &[("patient", v.patient_ref.as_str().into())])) }
            p.outcome { (t(l, "outcome")) (templates::outcome_badge(l, v.outcome)) }
        }
        dl.meta {
            dt { (t(l, "label-site")) } dd { (v.site) }
            dt { (t(l, "label-screening-date")) } dd { (v.screening_date) }
            dt { (t(l, "meta-recorded")) } dd { (session.when_at(&v.site, &v.screened_at)) (t(l, "meta-by")) (v.screened_by) }
            @if let Some(a) = &subject {
                dt { (t(l, "meta-randomized-as")) }
                dd { a href=(format!("/trials/{trial_id}/subjects/{}", a.subject_id)) { (a.subject_id) }
                    @if a.status == SubjectStatus::Withdrawn {
                        (t(l, "meta-withdrawn")) @if let Some(at) = &a.withdrawn_at { (t(l, "meta-on")) (session.when_at(&a.site, at)) }
                    } }
            }
        }
        @if let (Some(corrected), Some(status)) = (&v.corrects, v.correction_status) {
            (templates::notice(match status {
                CorrectionStatus::Pending => "warn",
                CorrectionStatus::Rejected => "error",
                _ => "ok",
            }, html! {
                (t(l, "corrects-1"))
                a href=(format!("/trials/{trial_id}/screenings/{corrected}")) { (t(l, "corrects-earlier")) }
                (t(l, "sentence-end")) (super::corrections::status_text(l, status)) (t(l, "full-stop"))
                @if status == CorrectionStatus::Pending {
                    (t(l, "corrects-pending"))
                }
            }))
        } @else if !v.latest {
            (templates::notice("warn", html! { (t(l, "later-exists")) }))
        }
        div.table-scroll role="region" aria-label=(t(l, "criteria-table")) tabindex="0" {
            table.criteria {
                caption { (t(l, "criteria-caption")) }
                thead { tr { th scope="col" { (t(l, "criteria-criterion")) } th scope="col" { (t(l, "criteria-result")) } th scope="col" { (t(l, "criteria-detail")) } } }
                tbody {
                    @for c in &v.criteria {
                        tr {
                            td { (criterion_text(l, &trial, &c.id)) }
                            td { (templates::status_badge(l, c.status)) }
                            td { (criterion_detail(l, &trial, &input, c)) }
                        }
                    }
                }
            }
        }
        @if !v.missing.is_empty() {
            section.still-needed aria-labelledby="still-needed-title" {
                h2 #still-needed-title { (t(l, "still-needed")) }
                ul { @for m in &v.missing { li { (sf::needed(l, m).label) } } }
            }
        }
        div.actions {
            @if completable {
                a.button href=(format!("/trials/{trial_id}/screening?from={}", v.id)) { (t(l, "complete-screening")) }
            }
            @if v.latest && session.may(Permission::Correct) {
                a.button href=(format!("/trials/{trial_id}/screenings/{}/correct", v.id)) { (t(l, "correct-screening")) }
            }
            @if role == Role::Investigator {
                @if !closed { a.button href=(format!("/trials/{trial_id}/screening")) { (t(l, "screen-another")) } }
                a href=(format!("/trials/{trial_id}/screenings")) { (t(l, "screening-list")) }
            }
            @if let Some(a) = subject.as_ref().filter(|a| a.status == SubjectStatus::OnStudy) {
                @if !closed && session.may(Permission::Withdraw) {
                    a.button.danger href=(format!("/trials/{trial_id}/subjects/{}/withdraw", a.subject_id)) { (t(l, "withdraw-button")) }
                }
            }
            @if !closed && role == Role::Pharmacist && v.subject_id.is_none() && v.latest && v.outcome == crate::eligibility::Outcome::Eligible {
                a.button href=(format!("/trials/{trial_id}/randomize/{}", v.id)) { (t(l, "randomize-button")) }
            }
        }
    };
    Ok(templates::ok(page(
        &ta(
            l,
            "screening-of",
            &[("patient", v.patient_ref.as_str().into())],
        ),
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
    let l = session.lang;
    let body = html! {
        h1 { (t(l, "nav-screenings")) }
        nav.filters aria-label=(t(l, "filter-outcome")) {
            @for (value, label) in [("", t(l, "filter-all")), (Outcome::Eligible.as_str(), t(l, "outcome-eligible")), (Outcome::Ineligible.as_str(), t(l, "outcome-ineligible")), (Outcome::Incomplete.as_str(), t(l, "outcome-incomplete"))] {
                @if outcome.as_deref().unwrap_or("") == value {
                    strong aria-current="page" { (label) }
                } @else {
                    a href=(if value.is_empty() { format!("/trials/{trial_id}/screenings") } else { format!("/trials/{trial_id}/screenings?outcome={value}") }) { (label) }
                }
            }
        }
        @if rows.is_empty() {
            p { (t(l, "no-screenings")) }
        } @else {
            div.table-scroll role="region" aria-label=(t(l, "screenings-table")) tabindex="0" {
                table {
                    thead { tr { th { (t(l, "col-patient")) } th { (t(l, "label-site")) } th { (t(l, "label-screening-date")) } th { (t(l, "col-outcome")) } th { (t(l, "col-recorded-by")) } th { (t(l, "col-subject")) } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { a href=(format!("/trials/{trial_id}/screenings/{}", r.id)) { (r.patient_ref) } }
                                td { (r.site) }
                                td { (r.screening_date) }
                                td { (templates::outcome_badge(l, r.outcome)) }
                                td { (r.screened_by) }
                                td { @if let Some(sub) = &r.subject_id { a href=(format!("/trials/{trial_id}/subjects/{sub}")) { (sub) } } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page(
        &t(l, "nav-screenings"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}
