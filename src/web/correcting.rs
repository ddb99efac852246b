//! Correcting a screening on the web: the screening form filled with everything the screening
//! recorded, patient and site fixed, a reason asked; what differs is the correction.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::error::WebError;
use super::form::Fields;
use super::i18n::{t, Lang};
use super::investigator::{screening_form, FormKind};
use super::screening_form as sf;
use super::session::WebSession;
use super::templates;
use crate::access::Permission;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::corrections;
use crate::service::queries::{self, SubmittedScreening};
use crate::service::TrialRuntime;

async fn load(
    state: &web::Data<AppState>,
    session: &WebSession,
    trial: &std::sync::Arc<TrialRuntime>,
    id: String,
) -> Result<SubmittedScreening, WebError> {
    let tc = trial.clone();
    session
        .db(state, move |c, user| {
            queries::submitted_screening(c, &tc, user, &id)
        })
        .await
}

/// GET /trials/{trial}/screenings/{id}/correct.
pub async fn form(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Correct)?;
    let (trial_id, id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let s = load(&state, &session, &trial, id).await?;
    let mut fields = sf::initial(session.today(), &session.user.sites);
    sf::fill_from(&mut fields, &s.input);
    // A correction keeps what the screening confirmed as typed, unless it is unticked.
    for lab in s.input.confirm_implausible.iter().flatten() {
        fields.push("confirm_implausible", lab.clone());
    }
    Ok(templates::ok(screening_form(
        &session,
        &trial,
        &fields,
        &[],
        None,
        FormKind::Correct(&s.view),
    )))
}

/// A correction's refusal, named at the form's inputs: `changes.labs.hemoglobin` is the
/// form's `labs.hemoglobin`; `changes` itself (nothing changed) is the whole form.
fn at_form_fields(l: Lang, errors: Vec<FieldError>) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = errors
        .into_iter()
        .map(|e| match e.field.strip_prefix("changes.") {
            Some(field) => FieldError::new(field, e.message),
            None if e.field == "changes" => FieldError::new("", t(l, "nothing-changed")),
            None => e,
        })
        .collect();
    sf::in_form_order(&mut errors);
    errors
}

/// POST /trials/{trial}/screenings/{id}/correct: records the correction, then shows it.
pub async fn submit(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::Correct)?;
    let (trial_id, id) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let s = load(&state, &session, &trial, id.clone()).await?;
    let redraw = |status: StatusCode, errors: &[FieldError], problem: Option<&str>| {
        templates::respond(
            status,
            screening_form(
                &session,
                &trial,
                &fields,
                errors,
                problem,
                FormKind::Correct(&s.view),
            ),
        )
    };
    let (raw, errors) = sf::parse(&fields);
    if !errors.is_empty() {
        let mut errors = errors;
        sf::in_form_order(&mut errors);
        return Ok(redraw(StatusCode::UNPROCESSABLE_ENTITY, &errors, None));
    }
    let reason = fields.value("reason").to_string();
    let tc = trial.clone();
    let result = session
        .db(&state, move |c, user| {
            corrections::correct_to(c, &tc, user, &id, &reason, &raw)
        })
        .await;
    match result {
        Ok(v) => Ok(templates::see_other(&format!(
            "/trials/{}/screenings/{}",
            v.trial, v.id
        ))),
        Err(WebError::Page { error, .. }) => match error {
            ApiError::Validation(errors) => Ok(redraw(
                StatusCode::UNPROCESSABLE_ENTITY,
                &at_form_fields(session.lang, errors),
                None,
            )),
            e @ (ApiError::StaleScreening(_)
            | ApiError::CorrectionPending(_)
            | ApiError::TrialClosed(_)) => {
                Ok(redraw(StatusCode::CONFLICT, &[], Some(&e.public_detail())))
            }
            other => Err(session.fail(other)),
        },
        Err(other) => Err(other),
    }
}
